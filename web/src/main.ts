/**
 * The dashboard: one app shell for every page URL; the path picks the page and the query string
 * holds its state, so any view can be linked from a mailing-list reply and reloaded as it was.
 */
import { makeApi } from './api.ts'
import { h } from './dom.ts'
import { errorBox, isAbort, setTitle, type PageRender } from './page.ts'
import { comparePage } from './pages/compare.ts'
import { issuePage, issuesPage } from './pages/issues.ts'
import { machinesPage } from './pages/machines.ts'
import { runPage } from './pages/run.ts'
import { seriesListPage } from './pages/series-list.ts'
import { seriesPage } from './pages/series.ts'
import { testPage } from './pages/test.ts'

const ROUTES: Array<[RegExp, PageRender]> = [
  [/^\/$/, seriesListPage],
  [/^\/series\/([^/]+)\/compare$/, comparePage],
  [/^\/series\/([^/]+)$/, seriesPage],
  [/^\/tests$/, testPage],
  [/^\/runs\/(\d+)$/, runPage],
  [/^\/machines$/, machinesPage],
  [/^\/issues$/, issuesPage],
  [/^\/issues\/(\d+)$/, issuePage],
]

let current: AbortController | null = null
let renderedPath = ''

function routeOf (pathname: string): [PageRender, RegExpExecArray] | null {
  for (const [pattern, render] of ROUTES) {
    const match = pattern.exec(pathname)
    if (match) return [render, match]
  }
  return null
}

async function render (): Promise<void> {
  const url = new URL(location.href)
  const path = url.pathname + url.search
  // a change of the #fragment alone belongs to the page (the log viewer's line anchors)
  if (path === renderedPath) return
  renderedPath = path
  current?.abort()
  const controller = new AbortController()
  current = controller
  const main = document.getElementById('main')!
  markNav(url.pathname)
  const route = routeOf(url.pathname)
  if (!route) {
    setTitle('Not found')
    main.replaceChildren(h('h1', null, 'Not found'), h('p', null, 'No page here. ', h('a', { href: '/' }, 'All series')))
    return
  }
  try {
    await route[0]({ main, url, api: makeApi(controller.signal), signal: controller.signal, navigate }, route[1])
  } catch (err) {
    if (isAbort(err) || controller.signal.aborted) return
    main.replaceChildren(errorBox(err))
  }
}

function navigate (href: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', href)
  else history.pushState(null, '', href)
  // a new page starts at its top; a page with a line anchor then scrolls to it itself
  if (!options.replace) window.scrollTo(0, 0)
  void render()
}

function markNav (pathname: string): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>('header.site nav a')) {
    const target = a.getAttribute('href')!
    const active = target === '/' ? pathname === '/' || pathname.startsWith('/series') : pathname.startsWith(target)
    if (active) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
}

/** Links to the dashboard's own pages change the view without reloading the app. */
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  const a = (event.target as Element | null)?.closest?.('a')
  if (!a || a.target || a.hasAttribute('download') || !a.href) return
  const url = new URL(a.href)
  if (url.origin !== location.origin || !routeOf(url.pathname)) return
  if (url.pathname === location.pathname && url.search === location.search) return
  event.preventDefault()
  navigate(url.pathname + url.search + url.hash)
})
window.addEventListener('popstate', () => { void render() })

void render()
