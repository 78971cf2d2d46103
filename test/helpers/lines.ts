/** JSON lines from a child process's stdout, with a wait for the first line matching a predicate. */
export function linesOf(child: import('node:child_process').ChildProcess) {
  const seen: any[] = []
  const waiters: (() => void)[] = []
  let buf = ''
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      try { seen.push(JSON.parse(buf.slice(0, i))) } catch { /* not JSON */ }
      buf = buf.slice(i + 1)
    }
    for (const w of waiters.splice(0)) w()
  })
  return {
    next: (pred: (m: any) => boolean, ms: number) => new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
      const check = () => {
        const m = seen.find(pred)
        if (m) { clearTimeout(timer); resolve(m) } else waiters.push(check)
      }
      check()
    }),
  }
}

