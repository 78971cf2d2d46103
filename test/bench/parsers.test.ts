import t from 'tap'
import { parseIperfTcp, parseIperfUdp, parseSockperf } from '../../bench/e2e/measure.js'
import { median, ratio } from '../../bench/e2e/metrics.js'
import { parseProcStatCpu, parseSoftirqSeconds, parseVmHwmBytes } from '../../bench/e2e/proc-stats.js'

// Trimmed from real iperf3 3.12 -J output.
const tcpJson = {
  end: {
    sum_sent: { seconds: 2.000434, bytes: 3530555392, bits_per_second: 14119157710.78, retransmits: 265, sender: true },
    sum_received: { seconds: 2.000485, bytes: 3530555392, bits_per_second: 14118797759.54, sender: true },
    cpu_utilization_percent: { host_total: 94.8, remote_total: 52.3 },
  },
}
const udpJson = {
  end: {
    sum_received: { seconds: 2.000144, bytes: 10679104, packets: 167850, lost_packets: 989, lost_percent: 0.589 },
  },
}

t.test('iperf3 TCP: receiver throughput, retransmits, endpoint CPU', async (t) => {
  const r = parseIperfTcp(tcpJson)
  t.equal(r.bitsPerSecond, 14118797759.54)
  t.equal(r.bytes, 3530555392)
  t.equal(r.retransmits, 265)
  t.ok(Math.abs(r.endpointCpuSeconds! - 1.471 * 2.000485) < 1e-3)
  t.throws(() => parseIperfTcp({ end: {} }), /sum_received/)
  t.throws(() => parseIperfTcp({}), /end/)
})

t.test('iperf3 UDP: delivered datagrams per second and loss', async (t) => {
  const r = parseIperfUdp(udpJson)
  t.ok(Math.abs(r.deliveredPps - (167850 - 989) / 2.000144) < 1e-6)
  t.ok(Math.abs(r.lossPercent - (100 * 989) / 167850) < 1e-9)
  t.throws(() => parseIperfUdp({ end: { sum_received: { seconds: 1 } } }), /packet counts/)
})

t.test('sockperf ping-pong: percentiles with colour codes stripped', async (t) => {
  const text = [
    'sockperf: \x1b[2;35m====> avg-latency=34.947 (std-dev=25.992)\x1b[0m',
    'sockperf: \x1b[2;35mTotal 22159 observations\x1b[0m; each percentile contains 221.59 observations',
    'sockperf: ---> percentile 99.000 =   46.448',
    'sockperf: ---> percentile 50.000 =   34.440',
  ].join('\n')
  t.same(parseSockperf(text), { p50Us: 34.44, p99Us: 46.448, avgUs: 34.947, observations: 22159 })
  t.throws(() => parseSockperf('sockperf: ERROR'), /no percentiles/)
})

t.test('/proc parsing: process CPU (comm with spaces), softirq, VmHWM', async (t) => {
  const stat = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 1000 500'
  t.equal(parseProcStatCpu(stat, 100), 3)
  t.equal(parseProcStatCpu('garbage', 100), null)
  t.equal(parseSoftirqSeconds('cpu  10 0 20 300 0 0 700 0 0 0\ncpu0 1 0 2 3 0 0 7 0 0 0\n', 100), 7)
  t.equal(parseVmHwmBytes('VmPeak:\t 100 kB\nVmHWM:\t   81920 kB\n'), 81920 * 1024)
  t.equal(parseVmHwmBytes('Name: x\n'), null)
})

t.test('median over rounds ignores missing values; ratio needs both sides', async (t) => {
  t.equal(median([3, null, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.equal(median([null]), null)
  t.equal(ratio(5, 10), 0.5)
  t.equal(ratio(5, null), null)
  t.equal(ratio(5, 0), null)
})
