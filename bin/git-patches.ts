import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { messageIdOfCommit, PATCH_LIMITS, type PatchRecord } from '../server/domain/patch-list.ts'

/**
 * The series' patches of a kernel tree, for `ksft upload`: what bin/ksft-upload.sh sends, made
 * the same way (test/hook/patch-list.test.ts checks that both give the same list). Every commit
 * from the base to HEAD, oldest first, without merges and empty commits (b4's cover letter).
 */

export type SeriesPatches = { patches: PatchRecord[] } | { none: string }

/** One line as the hook sends it: a tab as a space, other control characters (which the server refuses) left out. */
function oneLine (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.trim().replace(/\t/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '')
}

function git (tree: string, args: string[], input?: string): string {
  return execFileSync('git', ['-C', tree, ...args], { encoding: 'utf8', input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'ignore'] })
}

/** The top of the kernel tree `dir` is in, or null: a CI configuration repository is no kernel tree. */
export function kernelTreeOf (dir: string): string | null {
  let top: string
  try {
    top = git(dir, ['rev-parse', '--show-toplevel']).trim()
  } catch {
    return null
  }
  return existsSync(join(top, 'Kbuild')) && existsSync(join(top, 'tools', 'testing', 'selftests')) ? top : null
}

export function seriesPatches (tree: string, baseCommit: string): SeriesPatches {
  let base: string
  try {
    base = git(tree, ['rev-parse', '-q', '--verify', `${baseCommit}^{commit}`]).trim()
  } catch {
    return { none: `the base commit ${baseCommit} is not in ${tree}` }
  }
  try {
    git(tree, ['merge-base', '--is-ancestor', base, 'HEAD'])
  } catch {
    return { none: `the base commit ${baseCommit} is not an ancestor of HEAD` }
  }
  const commits = git(tree, ['rev-list', '--reverse', '--no-merges', `${base}..HEAD`]).split('\n').filter(Boolean)
  if (commits.length > PATCH_LIMITS.patches) return { none: `more than ${PATCH_LIMITS.patches} commits from the base commit to HEAD: is ${baseCommit} the series' base?` }
  const diffs = git(tree, ['log', '--no-merges', '-p', '--no-color', '--no-ext-diff', '--format=commit %H', `${base}..HEAD`])
  // "<patch-id> <commit>" for each commit with a diff
  const patchIds = new Map(git(tree, ['patch-id', '--stable'], diffs).split('\n').filter(Boolean).map(line => {
    const [patchId, commit] = line.split(' ') as [string, string]
    return [commit, patchId]
  }))
  const patches: PatchRecord[] = []
  for (const commit of commits) {
    const patchId = patchIds.get(commit)
    if (patchId === undefined) continue
    patches.push({
      subject: oneLine(git(tree, ['log', '-1', '--format=%s', commit])),
      author: oneLine(git(tree, ['log', '-1', '--format=%an <%ae>', commit])),
      patchId,
      files: git(tree, ['-c', 'core.quotePath=false', 'diff-tree', '--no-commit-id', '--name-only', '-r', commit]).split('\n').filter(Boolean),
      messageId: messageIdOfCommit(git(tree, ['log', '-1', '--format=%B', commit])),
    })
  }
  return { patches }
}
