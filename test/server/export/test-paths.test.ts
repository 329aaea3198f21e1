import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { siblingComponents, slugComponent } from '../../../server/export/test-paths.ts'

const hash8 = (name: string) => createHash('sha256').update(name).digest('hex').slice(0, 8)

test('a name that is a valid path component stays itself; others become readable slugs', () => {
  assert.deepEqual(slugComponent('guest_memfd_test'), { slug: 'guest_memfd_test', exact: true })
  assert.deepEqual(slugComponent('net/forwarding'), { slug: 'net_forwarding', exact: false })
  assert.deepEqual(slugComponent('  IPv4 (ping) -> ok  '), { slug: 'IPv4_ping_-_ok', exact: false })
  assert.deepEqual(slugComponent(''), { slug: '_', exact: false })
  assert.deepEqual(slugComponent('#...#'), { slug: '_', exact: false })
  assert.equal(slugComponent('x'.repeat(150)).slug, 'x'.repeat(100))
  assert.equal(slugComponent('x'.repeat(150)).exact, false)
})

test('siblings that slug alike are told apart by their own name\'s hash, the same whatever order they came in', () => {
  const names = ['a.b', 'a b', 'a_b', 'c d', 'a/b']
  const expected = new Map([
    ['a.b', `a_b-${hash8('a.b')}`],
    ['a b', `a_b-${hash8('a b')}`],
    ['a_b', 'a_b'],
    ['c d', 'c_d'],
    ['a/b', `a_b-${hash8('a/b')}`],
  ])
  assert.deepEqual(siblingComponents(names), expected)
  assert.deepEqual(siblingComponents([...names].reverse()), expected)
  assert.deepEqual(siblingComponents(['c d', 'a_b', 'a/b', 'a b', 'a.b']), expected)
})

test('a hashed slug that meets a sibling spelled that way yields to it and is numbered', () => {
  const spelled = `a_b-${hash8('a.b')}`
  const components = siblingComponents(['a.b', 'a b', spelled])
  assert.equal(components.get(spelled), spelled, 'a valid name never changes')
  assert.equal(components.get('a.b'), `${spelled}-2`)
  assert.equal(components.get('a b'), `a_b-${hash8('a b')}`)
  assert.equal(new Set(components.values()).size, 3)
})
