// The validator `npm run build` precompiles (dist/spec/schema-validator.cjs)
// must judge every document exactly as Ajv compiling the schema at run time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { AJV_OPTIONS, SCHEMA_FORMATS, buildSchema } from '../../src/spec/schema.js';
import { ROOT } from '../helpers/baton.js';

const generated = join(ROOT, 'dist', 'spec', 'schema-validator.cjs');

const DOCS: unknown[] = [
  { services: { web: { image: 'nginx', ports: ['8080:80', 9000, '127.0.0.1:53:53/udp'], expose: ['3000', 4000], healthcheck: { test: ['CMD', 'true'], interval: '10s' } } } },
  { services: { web: { image: 'nginx', ports: ['not a port'] } } },
  { services: { web: { image: 'nginx', healthcheck: { interval: 'ten seconds' } } } },
  { services: { web: { image: 'nginx', expose: ['80/http'] } } },
  { services: { web: { image: 'nginx', unknown_key: 1 } } },
  { services: { web: { image: 42, deploy: { replicas: 'three' } } } },
  { services: { web: { build: { context: '.', args: { A: '1' } }, networks: { front: { aliases: ['w'] } } } }, networks: { front: { ipam: { config: [{ subnet: '10.0.0.0/24' }] } } } },
  { networks: { n: { ipam: { config: [{ subnet: 'nonsense' }] } } } },
  { services: 'not a map' },
  { version: '3.9', services: { a: { image: 'x', stop_grace_period: '1m30s', secrets: [{ source: 's', target: 't', mode: 0o400 }] } }, secrets: { s: { file: './s.txt' } } },
];

const shape = (errors: ErrorObject[] | null | undefined): string[] => (errors ?? []).map((e) => `${e.instancePath} ${e.keyword} ${e.schemaPath}`).sort();

describe('precompiled schema validator', { skip: existsSync(generated) ? false : 'dist/spec/schema-validator.cjs is made by npm run build' }, () => {
  it('gives the same verdicts and errors as a validator compiled at run time', () => {
    const make = createRequire(import.meta.url)(generated) as (formats: typeof SCHEMA_FORMATS) => ValidateFunction;
    const pre = make(SCHEMA_FORMATS);
    const ajv = new Ajv2019({ ...AJV_OPTIONS });
    for (const [name, def] of Object.entries(SCHEMA_FORMATS)) ajv.addFormat(name, def);
    const live = ajv.compile(buildSchema());
    let invalid = 0;
    for (const doc of DOCS) {
      const a = pre(doc);
      const b = live(doc);
      assert.equal(a, b, JSON.stringify(doc));
      assert.deepEqual(shape(pre.errors), shape(live.errors), JSON.stringify(doc));
      if (!a) invalid++;
    }
    assert.ok(invalid >= 6, `the documents exercise failures too (${invalid} invalid)`);
  });
});
