#!/usr/bin/env node
// The installed `tartan` command: the compiled CLI (npm install runs `prepare`, which builds dist/).
import { runMain } from '../dist/cli/main.js'

runMain()
