import assert from 'node:assert/strict'
import { test } from 'node:test'
import { safeHref } from '../../web/src/dom.ts'

test('links from data are kept only when they stay on the server or go to http(s)', () => {
  assert.equal(safeHref('/runs/3#L1-L2'), '/runs/3#L1-L2')
  assert.equal(safeHref('#L5'), '#L5')
  assert.equal(safeHref('?base=v1'), '?base=v1')
  assert.equal(safeHref('https://lore.kernel.org/r/x@y'), 'https://lore.kernel.org/r/x@y')
  assert.equal(safeHref('HTTP://ci.example.org/job/1'), 'HTTP://ci.example.org/job/1')
  for (const bad of ['javascript:alert(1)', ' javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>', '//evil.example/x', 'vbscript:x', 'ftp://x']) {
    assert.equal(safeHref(bad), null, bad)
  }
})
