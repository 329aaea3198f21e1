import { h } from './dom.ts'

/** Where an admin token typed once lives: this tab only, gone when it closes. */
const TOKEN_KEY = 'ksft-admin-token'

/** A password field for the admin token, filled with the one this tab was given before. */
export function adminTokenInput (): HTMLInputElement {
  return h('input', { name: 'token', type: 'password', placeholder: 'admin token', value: sessionStorage.getItem(TOKEN_KEY) ?? '' })
}

export function rememberAdminToken (token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token)
}
