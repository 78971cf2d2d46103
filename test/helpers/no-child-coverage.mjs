// Loaded into every test process (package.json tap.node-arg). Test processes start tartan children (engines,
// `tartan run`, the demo, fixtures) through tsx, which transpiles the sources differently from tap's own
// TypeScript loader; their V8 coverage merged into the report lands on the wrong line maps and corrupts the
// per-file totals. This process keeps its own coverage (Node fixed the directory at startup); children
// simply do not inherit the variable.
delete process.env.NODE_V8_COVERAGE
