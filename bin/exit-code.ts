/** Raised by a command to end with a given exit code after printing its message (if any). */
export class ExitCode extends Error {
  constructor (readonly code: number, message = '') {
    super(message)
  }
}
