import { ApiError, type Api } from './api.ts'
import { h, type Child } from './dom.ts'

export interface PageContext {
  main: HTMLElement
  url: URL
  api: Api
  /** aborted when the reader navigates away: pending requests and listeners end with the page */
  signal: AbortSignal
  navigate: (href: string, options?: { replace?: boolean }) => void
}

export type PageRender = (ctx: PageContext, match: RegExpExecArray) => Promise<void>

export function setTitle (title: string): void {
  document.title = title ? `${title} · ksft-dashboard` : 'ksft-dashboard'
}

/** The page heading with a link to the JSON the page shows (its API twin). */
export function pageHeader (title: Child | Child[], twin: string | null, ...extra: Child[]): HTMLElement {
  return h('div', { class: 'page-header' },
    h('h1', null, ...(Array.isArray(title) ? title : [title])),
    ...extra,
    twin ? h('a', { class: 'twin', href: twin, title: 'the same data from the API' }, '{ } JSON') : null,
  )
}

export function section (title: string, id: string, ...children: Child[]): HTMLElement {
  return h('section', { id, aria: { labelledby: `${id}-title` } }, h('h2', { id: `${id}-title` }, title), ...children)
}

export function loading (what = 'Loading'): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, `${what}…`)
}

export function errorBox (err: unknown): HTMLElement {
  if (err instanceof ApiError) {
    return h('div', { class: 'error-box', role: 'alert' },
      h('strong', null, err.status === 404 ? 'Not found' : `Error ${err.status}`), ': ', err.message,
      h('span', { class: 'muted' }, ` (${err.code})`))
  }
  return h('div', { class: 'error-box', role: 'alert' }, h('strong', null, 'Error'), ': ', err instanceof Error ? err.message : String(err))
}

export function isAbort (err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError'
}

/** Runs a section's loader; a failure shows in the section instead of breaking the page. */
export async function fill (target: HTMLElement, load: () => Promise<Child | Child[]>): Promise<void> {
  target.replaceChildren(loading())
  try {
    const content = await load()
    target.replaceChildren(...([content].flat().filter((c): c is Node | string => c !== null && c !== undefined && c !== false)
      .map(c => typeof c === 'number' ? String(c) : c)))
  } catch (err) {
    if (isAbort(err)) return
    target.replaceChildren(errorBox(err))
  }
}

/** Fetches every page of a cursor-paged list, up to `max` items. */
export async function allPages<T, R extends { nextCursor: string | null }> (
  fetchPage: (cursor: string | undefined) => Promise<R>, items: (page: R) => T[], max = 10_000,
): Promise<{ items: T[], complete: boolean }> {
  const out: T[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await fetchPage(cursor)
    out.push(...items(page))
    if (page.nextCursor === null) return { items: out, complete: true }
    if (out.length >= max) return { items: out, complete: false }
    cursor = page.nextCursor
  }
}
