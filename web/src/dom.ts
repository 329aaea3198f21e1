/**
 * DOM building with createElement and textContent only: test names, reasons and log lines come
 * from untrusted uploads, so no string from data is ever parsed as HTML.
 */

export type Child = Node | string | number | null | undefined | false
type Children = Array<Child | Child[]>

export interface Attrs {
  class?: string
  id?: string
  href?: string
  title?: string
  role?: string
  type?: string
  name?: string
  value?: string
  for?: string
  method?: string
  action?: string
  placeholder?: string
  tabindex?: number
  hidden?: boolean
  disabled?: boolean
  selected?: boolean
  checked?: boolean
  colspan?: number
  scope?: string
  /** aria-* and data-* attributes, without their prefix */
  aria?: Record<string, string>
  data?: Record<string, string>
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void }
}

/** Only links that stay on this server or go to http(s): a `javascript:` URL from data never becomes a link. */
export function safeHref (href: string): string | null {
  if (href.startsWith('/') && !href.startsWith('//')) return href
  if (href.startsWith('#') || href.startsWith('?')) return href
  return /^https?:\/\//i.test(href) ? href : null
}

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs?: Attrs | null, ...children: Children): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (attrs) {
    for (const [key, value] of Object.entries(attrs) as Array<[keyof Attrs, unknown]>) {
      if (value === undefined || value === null || value === false) continue
      if (key === 'on') {
        for (const [type, listener] of Object.entries(value as Record<string, EventListener>)) el.addEventListener(type, listener)
      } else if (key === 'aria' || key === 'data') {
        for (const [name, v] of Object.entries(value as Record<string, string>)) el.setAttribute(`${key}-${name}`, v)
      } else if (key === 'href') {
        const href = safeHref(String(value))
        if (href !== null) el.setAttribute('href', href)
      } else if (value === true) {
        el.setAttribute(key, '')
      } else {
        el.setAttribute(key, String(value))
      }
    }
  }
  append(el, children)
  return el
}

export function append (parent: Node, children: Children): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child)
  }
}

/** Plain text only; `text` is never HTML. */
export function text (value: string): Text {
  return document.createTextNode(value)
}

export function link (href: string, ...children: Children): HTMLAnchorElement {
  return h('a', { href }, ...children)
}

export function externalLink (href: string, ...children: Children): HTMLAnchorElement {
  const a = h('a', { href }, ...children)
  a.rel = 'noopener noreferrer'
  return a
}

/** replaceChildren that skips null and false, like h() does. */
export function replace (parent: Element, ...children: Array<Child | Child[]>): void {
  parent.replaceChildren()
  append(parent, children)
}
