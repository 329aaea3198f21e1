import { apiPaths } from '../api.ts'
import { bucketChips, compareNotes, compareTable, type Bucket } from '../compare-view.ts'
import { h, replace } from '../dom.ts'
import { deltaBlock } from '../patch-delta-view.ts'
import { pageHeader, setTitle, type PageContext } from '../page.ts'

/** Every entry of one comparison, a bucket at a time if asked; the URL carries the API's own parameters. */
export async function comparePage (ctx: PageContext, match: RegExpExecArray): Promise<void> {
  const id = decodeURIComponent(match[1]!)
  const q = ctx.url.searchParams
  const wanted = (name: string) => q.get(name) ?? undefined
  let base = wanted('base')
  let head = wanted('head')
  if (!base || !head) {
    // the page without versions compares the latest with the one before, as the series page does
    const labels = (await ctx.api.trend(id)).versions.map(v => v.label)
    head ??= labels[labels.length - 1]
    base ??= labels[labels.length - 2]
    if (!base || !head) {
      replace(ctx.main, pageHeader('Comparison', null), h('p', null, 'This series has fewer than two versions: there is nothing to compare yet.'))
      return
    }
  }
  const params = {
    base, head, machine: wanted('machine'), arch: wanted('arch'), collection: wanted('collection'),
    bucket: wanted('bucket'), limit: wanted('limit'), cursor: wanted('cursor'),
  }
  const compare = await ctx.api.compare(id, params)
  const seriesId = String(compare.series.id)
  setTitle(`${compare.base.label} → ${compare.head.label} · ${compare.series.name}`)
  const filters = { machine: params.machine, arch: params.arch, collection: params.collection }
  const href = (extra: Record<string, string | undefined>, page = '/compare') => {
    const query = new URLSearchParams()
    for (const [key, value] of Object.entries({ base: compare.base.label, head: compare.head.label, ...filters, ...extra })) {
      if (value) query.set(key, value)
    }
    return `/series/${seriesId}${page}?${query.toString()}`
  }
  replace(ctx.main,
    // back to the series page with the same versions and filters
    h('p', { class: 'crumbs' }, h('a', { href: href({}, '') }, compare.series.name)),
    pageHeader(`${compare.base.label} → ${compare.head.label}`, apiPaths.compare(seriesId, params)),
    h('p', { class: 'muted' },
      `${compare.base.label} ran on ${compare.base.machines.join(', ') || 'no machine'}; ${compare.head.label} on ${compare.head.machines.join(', ') || 'no machine'}. `,
      'Each test is compared with itself on the same machine only; ',
      h('a', { href: apiPaths.summaryText(seriesId, { base: compare.base.label, head: compare.head.label }) }, 'summary.txt'), ' has it as plain text.'),
    compare.machine ? h('p', null, `Only ${compare.machine}. `, h('a', { href: href({ bucket: params.bucket, machine: undefined }) }, 'all machines')) : null,
    compare.arch ? h('p', null, `Only machines that ran it on ${compare.arch}. `, h('a', { href: href({ bucket: params.bucket, arch: undefined }) }, 'every architecture')) : null,
    compare.collection ? h('p', null, `Only the ${compare.collection} collection. `, h('a', { href: href({ bucket: params.bucket, collection: undefined }) }, 'every collection')) : null,
    // what changed in the series, above the failures it may explain
    compare.delta ? deltaBlock(compare.delta) : null,
    bucketChips(compare, bucket => href({ bucket: bucket ?? undefined }), (params.bucket as Bucket | undefined) ?? null),
    compareNotes(compare),
    compareTable(compare, seriesId, () => { void comparePage(ctx, match) }),
    compare.nextCursor ? h('p', null, h('a', { href: href({ bucket: params.bucket, limit: params.limit, cursor: compare.nextCursor }) }, 'Next page →')) : null,
  )
}
