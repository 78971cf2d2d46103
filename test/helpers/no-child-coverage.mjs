// Loaded into every test process (package.json tap.node-arg). Test processes start tartan children (engines,
// `tartan run`, the demo, fixtures) through tsx, which transpiles the sources differently from tap's own
// TypeScript loader; their coverage, merged into the report, lands on the wrong line maps and corrupts the
// per-file totals (a file reported as one line). So children collect none: tap's processinfo hook (loaded
// through NODE_OPTIONS) skips coverage when _TAPJS_PROCESSINFO_COVERAGE_ is '0', and NODE_V8_COVERAGE is not
// inherited. This process already started its own coverage before this module ran, and keeps it.
process.env._TAPJS_PROCESSINFO_COVERAGE_ = '0'
delete process.env.NODE_V8_COVERAGE
