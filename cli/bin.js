#!/usr/bin/env node
// Installed entry point: run the TypeScript CLI through tsx (a runtime dependency).
require('tsx/cjs');
require('./main.ts').main();
