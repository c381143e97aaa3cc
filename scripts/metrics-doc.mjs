#!/usr/bin/env node
// Writes docs/metrics.md from the registries the code declares (see lib/metrics-doc.ts).
import { writeFileSync } from 'node:fs';
import { docsMetricsText } from '../dist/scripts/metrics-doc-sources.js';

writeFileSync(new URL('../docs/metrics.md', import.meta.url), await docsMetricsText());
console.log('wrote docs/metrics.md');
