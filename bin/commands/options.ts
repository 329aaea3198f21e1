import type { Command } from 'commander'
import type { Store, StoreOptions } from '../../server/storage/store.ts'
import { DEFAULT_DB_PATH, defaultStoreLocation } from '../../server/defaults.ts'

/** `--db`, shared by every command that opens the store; KSFT_DATABASE_URL (or KSFT_DB) sets the same. */
export function addDbOption (command: Command): Command {
  return command.option('--db <path-or-url>', `the store: a SQLite file or a database URL (env KSFT_DATABASE_URL, default ${DEFAULT_DB_PATH})`)
}

export function dbPathOf (options: { db?: string }): string {
  return options.db ?? defaultStoreLocation()
}

/**
 * The store at `--db` (or its default), opened through the one door every backend has; loaded only
 * when a command runs, so that `ksft --help` or `ksft gate` never loads a database driver.
 */
export async function openCommandStore (options: { db?: string }, storeOptions: StoreOptions = {}): Promise<Store> {
  const { openStore } = await import('../../server/storage/store.ts')
  return openStore(dbPathOf(options), storeOptions)
}

/** The metadata flags of `ingest` and `upload`, named like the upload API's query keys. */
export function addMetadataOptions (command: Command): Command {
  return command
    .requiredOption('--series <name>', 'patch series name, e.g. "KVM: mm: fd-based approach for supporting KVM guest private memory"')
    .requiredOption('--version <label>', 'series version: v1, v2 ..., base for the unpatched tree, RFC v2 ...')
    .option('--machine <name>', 'machine name (default: unknown)')
    .option('--arch <arch>', 'architecture, e.g. x86_64')
    .option('--cpu <model>', 'CPU model')
    .option('--flags <list>', 'machine flags, comma-separated: sev,sev_snp,tdx')
    .option('--kernel <release>', 'kernel release (uname -r)')
    .option('--commit <sha>', 'commit the kernel was built from')
    .option('--base-commit <sha>', 'commit the series applies to')
    .option('--job-url <url>', 'link to the CI job')
    .option('--message-id <id>', "lore Message-ID of the version's cover letter")
    .option('--started-at <iso-date>', 'when the run started')
    .option('--tree-name <name>', 'the tree the series applies to, e.g. kvm-x86/next')
    .option('--git-url <url>', "that tree's repository URL")
    .option('--patchset-hash <sha256>', "KCIDB's hash of the version's patches")
    .option('--change-id <id>', "b4's change-id of the series: what identifies it whatever its title")
    .option('--previous-message-ids <list>', "comma list of the Message-IDs of earlier versions' cover letters")
}

export interface MetadataFlags {
  series: string
  version: string
  machine?: string
  arch?: string
  cpu?: string
  flags?: string
  kernel?: string
  commit?: string
  baseCommit?: string
  jobUrl?: string
  messageId?: string
  startedAt?: string
  treeName?: string
  gitUrl?: string
  patchsetHash?: string
  changeId?: string
  previousMessageIds?: string
}

/** The flags as the metadata keys of the API. */
export function rawMetadataOf (flags: MetadataFlags): Record<string, unknown> {
  const raw: Record<string, unknown> = {
    series: flags.series,
    version: flags.version,
    machine: flags.machine,
    arch: flags.arch,
    cpu: flags.cpu,
    flags: flags.flags,
    kernel: flags.kernel,
    commit: flags.commit,
    base_commit: flags.baseCommit,
    job_url: flags.jobUrl,
    message_id: flags.messageId,
    started_at: flags.startedAt,
    tree_name: flags.treeName,
    git_url: flags.gitUrl,
    patchset_hash: flags.patchsetHash,
    change_id: flags.changeId,
    previous_message_ids: flags.previousMessageIds,
  }
  for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key]
  return raw
}
