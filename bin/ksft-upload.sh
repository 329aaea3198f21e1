#!/bin/sh
# ksft-upload.sh: send a kselftest log to a ksft-dashboard server, tagged with what this machine is.
#
#   make -C tools/testing/selftests TARGETS="memfd kvm" run_tests 2>&1 | tee ksft.log
#   curl -fsS http://dash:8080/hook.sh | sh -s -- --series "..." --version v7 ksft.log
#
# POSIX sh (dash, busybox ash); needs curl and gzip besides the usual od, sed and tr.
# docs/ci-hook.md in the ksft-dashboard repository has the details; --help lists the options.

usage () {
  cat <<'EOF'
usage: ksft-upload.sh [options] [LOG | -]

Uploads a kselftest log (a file, or - / nothing for standard input) to a ksft-dashboard server.

  --server URL        dashboard URL (env KSFT_SERVER)
  --token TOKEN       upload token (env KSFT_TOKEN; prefer the variable, flags show in ps)
  --series NAME       patch series name (default: the title of b4's cover letter)
  --version LABEL     v1, v2 ..., base, RFC v2 (default: the revision in b4's tracking data)
  --machine NAME      default: uname -n
  --arch ARCH         default: uname -m
  --kernel RELEASE    default: uname -r
  --cpu MODEL         default: "model name" in /proc/cpuinfo
  --flags LIST        comma list added to the detected ones (sev, sev_es, sev_snp, tdx ...)
  --commit SHA        default: HEAD of the kernel tree
  --base-commit SHA   default: the parent of b4's cover-letter commit
  --job-url URL       default: CI_JOB_URL (GitLab), BUILD_URL (Jenkins) or the GitHub Actions run
  --message-id ID     lore Message-ID of the version's cover letter
  --started-at DATE   when the run started (ISO 8601)
  --tree-name NAME    the tree the series applies to, e.g. kvm-x86/next
  --git-url URL       that tree's repository URL
  --patchset-hash SHA256  KCIDB's hash of the version's patches
  --change-id ID      b4's change-id of the series (default: b4's tracking data)
  --previous-message-ids LIST  comma list of earlier versions' cover-letter Message-IDs
                      (default: b4's history)
  --tree DIR          the kernel git tree (env KSFT_TREE, default: the current directory)
  --no-patches        do not send the series' patches (base..HEAD of the tree) after the log
  --dry-run           print what would be sent, send nothing
  -h, --help          this text

The series' patches (subject, author, git patch-id --stable, files touched, the Message-ID a
commit's trailers name) go to the server after the log, from the base commit to HEAD of a kernel
tree; base has none.

Environment: KSFT_RETRIES (retries after a network error, a 5xx or a 429; default 4),
KSFT_RETRY_DELAY (seconds before the first retry, doubled each time; default 2),
KSFT_CPUINFO (default /proc/cpuinfo), KSFT_SYSFS_ROOT (default /sys).
EOF
}

B4_MARKER='--- b4-submit-tracking ---'
# more commits than this from the base to HEAD is a wrong base, not a series
MAX_PATCHES=1000

say () { printf 'ksft-upload: %s\n' "$*" >&2; }
die () { say "error: $*"; exit 1; }
usage_error () { say "error: $*"; say '(--help lists the options)'; exit 2; }

# Percent-encodes every byte but the unreserved ones of RFC 3986. One od for the whole value; the
# rest is shell arithmetic and printf builtins, so a long job URL costs no fork per character.
urlencode () {
  for hex in $(printf '%s' "$1" | od -An -v -tx1); do
    case $hex in
      3[0-9]|4[1-9a-f]|5[0-9a]|6[1-9a-f]|7[0-9a]|2d|2e|5f|7e)
        byte=$((0x$hex))
        # shellcheck disable=SC2059 # the format is the octal escape of one safe byte
        printf "\\$((byte / 64))$((byte / 8 % 8))$((byte % 8))" ;;
      *) printf '%%%s' "$hex" ;;
    esac
  done
}

query=''
add_param () {
  [ -n "$2" ] || return 0
  query="$query${query:+&}$1=$(urlencode "$2")"
}

detected_flags=' '
add_flag () { case $detected_flags in *" $1 "*) ;; *) detected_flags="$detected_flags$1 " ;; esac; }
drop_flag () { detected_flags=$(printf '%s' "$detected_flags" | sed "s/ $1 / /"); }

# A kvm module parameter: Y on current kernels, 1 on old ones.
param_on () {
  [ -r "$1" ] || return 1
  param=''
  read -r param < "$1" || [ -n "$param" ] || return 1
  case $param in Y|y|1) return 0 ;; *) return 1 ;; esac
}

# The dashboard's flags say what confidential guests this host can run, so that a run's skips and
# failures are compared with runs on machines of the same kind.
detect_flags () {
  cpuflags=''
  if [ -r "$cpuinfo" ]; then
    cpuflags=$(sed -n 's/^flags[[:space:]]*:[[:space:]]*//p' "$cpuinfo" | sed -n 1p)
  fi
  case " $cpuflags " in
    *' hypervisor '*)
      # inside a VM the CPU's memory-encryption bits describe the guest, not a host that can run
      # confidential guests; a TDX guest still gets a flag of its own, as its results differ
      case " $cpuflags " in *' tdx_guest '*) add_flag tdx_guest ;; esac ;;
    *)
      for flag in sev sev_es sev_snp; do
        case " $cpuflags " in *" $flag "*) add_flag "$flag" ;; esac
      done ;;
  esac
  # once kvm_amd is loaded its parameters are what the kvm selftests can use: a CPU with SEV-SNP
  # whose KVM has it off (old firmware, sev_snp=0, a kernel before SNP host support) skips those tests
  amd="$sysfs/module/kvm_amd/parameters"
  if [ -d "$amd" ]; then
    for flag in sev sev_es sev_snp; do
      if param_on "$amd/$flag"; then add_flag "$flag"; else drop_flag "$flag"; fi
    done
  fi
  # TDX hosts show no cpuinfo flag; kvm_intel's tdx parameter is the one place that says so
  if param_on "$sysfs/module/kvm_intel/parameters/tdx"; then add_flag tdx; fi
}

detect_cpu () {
  [ -r "$cpuinfo" ] || return 0
  model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' "$cpuinfo" | sed -n 1p)
  # powerpc names its CPU on a "cpu" line; arm64 has no model name at all
  [ -n "$model" ] || model=$(sed -n 's/^cpu[[:space:]]*:[[:space:]]*//p' "$cpuinfo" | sed -n 1p)
  printf '%s' "$model" | tr -s ' \t' '  ' | sed 's/ *$//'
}

# b4 prep keeps its tracking data (JSON with the series' revision) either under a marker in an
# empty cover-letter commit (the default "commit" and the "tip-commit" strategies) or in the
# branch's git config ("branch-description"). Sets b4_revision, b4_title, b4_base, b4_change_id
# and b4_history (the Message-IDs of the cover letters of the revisions sent before, comma list).
read_b4_tracking () {
  top=$1
  b4_json='' b4_title='' b4_base='' b4_change_id='' b4_history=''
  branch=$(git -C "$top" symbolic-ref -q --short HEAD 2>/dev/null)
  if [ -n "$branch" ]; then
    b4_json=$(git -C "$top" config --get "branch.$branch.b4-tracking" 2>/dev/null)
    [ -z "$b4_json" ] || b4_title=$(git -C "$top" config --get "branch.$branch.description" 2>/dev/null | sed -n 1p)
  fi
  if [ -z "$b4_json" ]; then
    # the same search as b4's find_cover_commit, so both agree on what is a prep branch
    cover=$(git -C "$top" log -1 -F --grep="$B4_MARKER" --since=1.year --format=%H HEAD 2>/dev/null)
    [ -n "$cover" ] || return 0
    b4_json=$(git -C "$top" log -1 --format=%B "$cover" | sed -n "/^$B4_MARKER\$/,\$p")
    b4_title=$(git -C "$top" log -1 --format=%s "$cover")
    # with the cover letter first, its parent is what the series applies to; a cover at the tip
    # ("tip-commit") says nothing about the base
    if [ "$cover" != "$(git -C "$top" rev-parse HEAD)" ]; then
      b4_base=$(git -C "$top" rev-parse -q --verify "$cover^" 2>/dev/null)
    fi
  fi
  b4_json=$(printf '%s' "$b4_json" | tr -d '\n')
  b4_revision=$(printf '%s' "$b4_json" | sed -n 's/.*"revision"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')
  b4_change_id=$(printf '%s' "$b4_json" | sed -n 's/.*"change-id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
  # "history": {"v1": ["<msgid>", ...], "v2": [...]}: every string with an @ in it
  b4_history=$(printf '%s' "$b4_json" | sed -n 's/.*"history"[[:space:]]*:[[:space:]]*{\([^}]*\)}.*/\1/p' | tr ',' '\n' \
    | sed -n 's/.*"<\{0,1\}\([^"<>]*@[^"<>]*\)>\{0,1\}".*/\1/p' | tr '\n' ',' | sed 's/,$//')
  # b4's template title is a placeholder, never a series name
  case $b4_title in EDITME*) b4_title= ;; esac
}

# The commit and the series version, only from a kernel tree: the hook may well run inside a CI
# configuration repository, whose HEAD says nothing about the kernel that was tested.
detect_git () {
  command -v git >/dev/null 2>&1 || return 0
  top=$(git -C "$tree" rev-parse --show-toplevel 2>/dev/null) || return 0
  [ -f "$top/Kbuild" ] && [ -d "$top/tools/testing/selftests" ] || return 0
  head=$(git -C "$top" rev-parse -q --verify HEAD 2>/dev/null) || return 0
  [ -n "$commit" ] || commit=$head
  b4_revision='' b4_title='' b4_base='' b4_change_id='' b4_history=''
  read_b4_tracking "$top"
  if [ -z "$version" ] && [ -n "$b4_revision" ]; then
    version=v$b4_revision
    version_source="b4 tracking data in $top"
  fi
  [ -n "$series" ] || series=$b4_title
  [ -n "$base_commit" ] || base_commit=$b4_base
  [ -n "$change_id" ] || change_id=$b4_change_id
  [ -n "$previous_message_ids" ] || previous_message_ids=$b4_history
  kernel_tree=$top
}

# A value as a JSON string. Git prints a subject on one line; other control characters, which no
# name should hold (the server refuses them), are left out.
json_string () {
  printf '"%s"' "$(printf '%s' "$1" | tr '\t' ' ' | tr -d '\000-\037\177' | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# The Message-ID a commit's trailers name as the mail it came from: Message-Id: (git am
# --message-id) or a Link: to lore or patch.msgid.link (b4 am -l); the last one wins.
commit_message_id () {
  git -C "$kernel_tree" log -1 --format=%B "$1" | sed -n \
    -e 's/^[Mm][Ee][Ss][Ss][Aa][Gg][Ee]-[Ii][Dd]:[[:space:]]*<\{0,1\}\([^<>[:space:]]*\)>\{0,1\}[[:space:]]*$/\1/p' \
    -e 's#^[Ll][Ii][Nn][Kk]:[[:space:]]*https\{0,1\}://lore\.kernel\.org/[^/[:space:]]*/\([^/[:space:]]*\)/\{0,1\}[[:space:]]*$#\1#p' \
    -e 's#^[Ll][Ii][Nn][Kk]:[[:space:]]*https\{0,1\}://patch\.msgid\.link/\([^/[:space:]]*\)/\{0,1\}[[:space:]]*$#\1#p' \
    | sed 's/%40/@/g' | grep '@' | sed -n '$p'
}

# The series' patches on the tested tree, as the JSON body of PUT /api/v1/runs/ID/patches: each
# commit from the base to HEAD, oldest first, without merges and empty commits (b4's cover
# letter). Writes to standard output; sets patch_count, or no_patches saying why there is no list.
patch_list () {
  patch_count=0
  base_sha=$(git -C "$kernel_tree" rev-parse -q --verify "$base_commit^{commit}" 2>/dev/null)
  if [ -z "$base_sha" ]; then no_patches="the base commit $base_commit is not in $kernel_tree"; return 1; fi
  if ! git -C "$kernel_tree" merge-base --is-ancestor "$base_sha" HEAD 2>/dev/null; then
    no_patches="the base commit $base_commit is not an ancestor of HEAD"; return 1
  fi
  commits=$(git -C "$kernel_tree" rev-list --reverse --no-merges "$base_sha..HEAD")
  if [ "$(printf '%s\n' "$commits" | grep -c .)" -gt "$MAX_PATCHES" ]; then
    no_patches="more than $MAX_PATCHES commits from the base commit to HEAD: is $base_commit the series' base?"; return 1
  fi
  # every patch-id at once: "<patch-id> <commit>" for each commit with a diff
  git -C "$kernel_tree" log --no-merges -p --no-color --no-ext-diff --format='commit %H' "$base_sha..HEAD" \
    | git -C "$kernel_tree" patch-id --stable > "$work/patch-ids"
  printf '{"patches":['
  for c in $commits; do
    patch_id=$(sed -n "s/^\([0-9a-f]*\) $c\$/\1/p" "$work/patch-ids")
    [ -n "$patch_id" ] || continue
    [ "$patch_count" -eq 0 ] || printf ','
    patch_count=$((patch_count + 1))
    patch_message_id=$(commit_message_id "$c")
    printf '{"subject":%s,"author":%s,"patchId":"%s","files":[' \
      "$(json_string "$(git -C "$kernel_tree" log -1 --format=%s "$c")")" "$(json_string "$(git -C "$kernel_tree" log -1 --format='%an <%ae>' "$c")")" "$patch_id"
    git -c core.quotePath=false -C "$kernel_tree" diff-tree --no-commit-id --name-only -r "$c" | {
      sep=''
      while IFS= read -r file; do printf '%s%s' "$sep" "$(json_string "$file")"; sep=','; done
    }
    if [ -n "$patch_message_id" ]; then printf '],"messageId":%s}' "$(json_string "$patch_message_id")"; else printf '],"messageId":null}'; fi
  done
  printf ']}\n'
}

detect_job_url () {
  if [ -n "${CI_JOB_URL-}" ]; then printf '%s' "$CI_JOB_URL"
  elif [ -n "${BUILD_URL-}" ]; then printf '%s' "$BUILD_URL"
  elif [ -n "${GITHUB_RUN_ID-}" ] && [ -n "${GITHUB_REPOSITORY-}" ]; then
    printf '%s/%s/actions/runs/%s' "${GITHUB_SERVER_URL:-https://github.com}" "$GITHUB_REPOSITORY" "$GITHUB_RUN_ID"
  fi
}

# "total":8,"pass":4,"fail":2,"skip":2,"xfail":0 ... -> "8 tests: 4 pass, 2 fail, 2 skip"
describe_summary () {
  summary=$(sed -n 's/.*"summary":{\([^}]*\)}.*/\1/p' "$1" | tr -d '"')
  [ -n "$summary" ] || return 0
  total='' counts=''
  old_ifs=$IFS; IFS=,
  for pair in $summary; do
    name=${pair%%:*} count=${pair#*:}
    if [ "$name" = total ]; then total=$count
    elif [ "$count" != 0 ]; then counts="$counts${counts:+, }$count $name"; fi
  done
  IFS=$old_ifs
  printf '%s tests: %s' "$total" "$counts"
}

# The message of a {"error":{"code":"...","message":"..."}} body, or the start of any other body.
server_message () {
  code=$(sed -n 's/.*"error":{"code":"\([A-Z_]*\)".*/\1/p' "$1" | sed -n 1p)
  message=$(sed -n 's/.*"message":"\(.*\)"}}.*/\1/p' "$1" | sed -n 1p | sed 's/\\"/"/g; s/\\\\/\\/g')
  if [ -n "$message" ]; then
    printf '%s: %s' "${code:-error}" "$message"
  else
    printf 'not a ksft-dashboard answer: %s' "$(tr -d '\r' < "$1" | tr '\n' ' ' | cut -c 1-200)"
  fi
}

# curl's exit codes for trouble on the way that a later attempt may not meet: resolve, connect,
# timeouts, a connection cut mid-request, TLS handshakes and HTTP/2 streams that broke off.
transient_curl_error () {
  case $1 in 5|6|7|16|18|28|35|52|55|56|92) return 0 ;; *) return 1 ;; esac
}

main () {
  # bytes, not characters: the URL encoding walks bytes and cpuinfo is read with byte patterns
  LC_ALL=C
  export LC_ALL
  umask 077

  server=${KSFT_SERVER-} token=${KSFT_TOKEN-} tree=${KSFT_TREE:-.}
  series='' version='' machine='' arch='' kernel='' cpu='' extra_flags='' commit='' base_commit='' job_url=''
  message_id='' started_at='' tree_name='' git_url='' patchset_hash='' dry_run='' log='' version_source=''
  change_id='' previous_message_ids='' send_patches=1 kernel_tree='' no_patches='' patch_count=0
  cpuinfo=${KSFT_CPUINFO:-/proc/cpuinfo}
  sysfs=${KSFT_SYSFS_ROOT:-/sys}
  retries=${KSFT_RETRIES:-4}
  delay=${KSFT_RETRY_DELAY:-2}

  while [ $# -gt 0 ]; do
    opt=$1 value='' inline=''
    case $opt in
      --*=*) value=${opt#*=} opt=${opt%%=*} inline=1 ;;
    esac
    case $opt in
      --server|--token|--series|--version|--machine|--arch|--kernel|--cpu|--flags|--commit|\
      --base-commit|--job-url|--message-id|--started-at|--tree|--tree-name|--git-url|--patchset-hash|\
      --change-id|--previous-message-ids)
        if [ -z "$inline" ]; then
          [ $# -ge 2 ] || usage_error "$opt needs a value"
          value=$2
          shift
        fi ;;
      --dry-run|--no-patches|-h|--help)
        [ -z "$inline" ] || usage_error "$opt takes no value" ;;
    esac
    case $opt in
      --server) server=$value ;;
      --token) token=$value ;;
      --series) series=$value ;;
      --version) version=$value version_source='--version' ;;
      --machine) machine=$value ;;
      --arch) arch=$value ;;
      --kernel) kernel=$value ;;
      --cpu) cpu=$value ;;
      --flags) extra_flags="$extra_flags${extra_flags:+,}$value" ;;
      --commit) commit=$value ;;
      --base-commit) base_commit=$value ;;
      --job-url) job_url=$value ;;
      --message-id) message_id=$value ;;
      --started-at) started_at=$value ;;
      --tree-name) tree_name=$value ;;
      --git-url) git_url=$value ;;
      --patchset-hash) patchset_hash=$value ;;
      --change-id) change_id=$value ;;
      --previous-message-ids) previous_message_ids=$value ;;
      --tree) tree=$value ;;
      --no-patches) send_patches='' ;;
      --dry-run) dry_run=1 ;;
      -h|--help) usage; exit 0 ;;
      --) shift; break ;;
      -) break ;;
      -*) usage_error "unknown option $opt" ;;
      *) break ;;
    esac
    shift
  done
  [ $# -le 1 ] || usage_error "one log at a time (got: $*)"
  log=${1:--}

  case $retries in ''|*[!0-9]*) usage_error "KSFT_RETRIES must be a number, not \"$retries\"" ;; esac
  case $delay in ''|*[!0-9]*) usage_error "KSFT_RETRY_DELAY must be whole seconds, not \"$delay\"" ;; esac
  if [ "$log" = - ]; then
    # under `curl ... | sh` standard input is the script itself, never a log
    [ $# -eq 1 ] || [ ! -t 0 ] || usage_error 'no log: name a file, or pipe the log into the script'
  else
    [ -e "$log" ] || die "cannot read $log: no such file"
    [ ! -d "$log" ] || die "cannot read $log: is a directory"
    [ -r "$log" ] || die "cannot read $log: permission denied"
  fi

  [ -n "$machine" ] || machine=$(uname -n)
  [ -n "$kernel" ] || kernel=$(uname -r)
  [ -n "$arch" ] || arch=$(uname -m)
  [ -n "$cpu" ] || cpu=$(detect_cpu)
  [ -n "$job_url" ] || job_url=$(detect_job_url)
  detect_flags
  detect_git
  flags=$(printf '%s' "$detected_flags" | sed 's/^ *//; s/ *$//; s/ /,/g')
  [ -z "$extra_flags" ] || flags="$flags${flags:+,}$extra_flags"

  [ -n "$series" ] || usage_error '--series is required (no b4 cover letter title found)'
  [ -n "$version" ] || usage_error "--version is required (no b4 tracking data found in $tree)"

  add_param series "$series"
  add_param version "$version"
  add_param machine "$machine"
  add_param arch "$arch"
  add_param kernel "$kernel"
  add_param cpu "$cpu"
  add_param flags "$flags"
  add_param commit "$commit"
  add_param base_commit "$base_commit"
  add_param job_url "$job_url"
  add_param message_id "$message_id"
  add_param started_at "$started_at"
  add_param tree_name "$tree_name"
  add_param git_url "$git_url"
  add_param patchset_hash "$patchset_hash"
  add_param change_id "$change_id"
  add_param previous_message_ids "$previous_message_ids"

  base=${server%/}
  url="$base/api/v1/runs?$query"
  source_name=$log
  [ "$log" != - ] || source_name='standard input'

  work=$(mktemp -d "${TMPDIR:-/tmp}/ksft-upload.XXXXXX") || die 'cannot make a temp directory'
  trap 'rm -rf "$work"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # the series' patches: only from a kernel tree, from a known base, and never for base itself
  if [ -z "$send_patches" ]; then no_patches='--no-patches'
  elif [ -z "$kernel_tree" ]; then no_patches="no kernel tree in $tree"
  elif [ "$(printf '%s' "$version" | tr 'BASE' 'base')" = base ]; then no_patches='the base version has no patches'
  elif [ -z "$base_commit" ]; then no_patches='no base commit (give --base-commit, or use b4 prep)'
  elif ! patch_list > "$work/patches.json"; then :
  fi

  if [ -n "$dry_run" ]; then
    printf 'POST %s\n' "${base:-<KSFT_SERVER unset>}/api/v1/runs?$query"
    if [ -n "$token" ]; then printf 'Authorization: Bearer <%s characters>\n' "${#token}"
    else printf 'Authorization: <KSFT_TOKEN unset>\n'; fi
    printf 'Content-Type: text/plain\nContent-Encoding: gzip\n'
    if [ "$log" = - ]; then printf 'body: standard input, gzipped (not read in a dry run)\n'
    else printf 'body: %s (%s bytes), gzipped\n' "$log" "$(wc -c < "$log" | tr -d ' ')"; fi
    printf '\n'
    for key in series version machine arch kernel cpu flags commit base_commit job_url message_id started_at tree_name git_url patchset_hash change_id previous_message_ids; do
      eval "value=\$$key"
      [ -z "$value" ] || printf '%s=%s\n' "$key" "$value"
    done
    [ -z "$version_source" ] || printf '# version from %s\n' "$version_source"
    if [ -n "$no_patches" ]; then printf '# no patch list: %s\n' "$no_patches"
    else
      printf '# then PUT /api/v1/runs/<id>/patches: %s from %s to HEAD\n' "$(patches_counted "$patch_count")" "$base_commit"
      cat "$work/patches.json"
    fi
    exit 0
  fi

  case $server in
    http://?*|https://?*) ;;
    '') usage_error 'no server: set KSFT_SERVER or pass --server http://dash:8080' ;;
    *) usage_error "the server must be an http:// or https:// URL, not \"$server\"" ;;
  esac
  [ -n "$token" ] || usage_error 'no token: set KSFT_TOKEN (ksft token create --name <label> makes one)'
  case $token in *[!A-Za-z0-9._~+/=-]*) die 'the token has characters no ksft token has' ;; esac
  command -v curl >/dev/null 2>&1 || die 'curl is missing'
  command -v gzip >/dev/null 2>&1 || die 'gzip is missing'

  # the log is compressed once, so that every retry sends the same bytes, even from a pipe
  if [ "$log" = - ]; then gzip -c > "$work/log.gz" || die 'cannot gzip standard input'
  else gzip -c < "$log" > "$work/log.gz" || die "cannot gzip $log"; fi
  say "uploading $source_name ($(wc -c < "$work/log.gz" | tr -d ' ') bytes gzipped) as \"$series\" $version on $machine to $base"

  send POST "$url" "$work/log.gz" text/plain gzip || die "$problem"
  case $status in
    200|201) ;;
    *) die "the server refused the upload ($status $(server_message "$work/response"))" ;;
  esac
  run_url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$work/response" | sed -n 1p)
  [ -n "$run_url" ] || die "$base answered $status without a run: $(server_message "$work/response")"
  if [ "$status" = 201 ]; then state='stored'; else state='already stored (same log and metadata)'; fi
  say "run ${run_url##*/} $state: $(describe_summary "$work/response")"
  # the answer's last field, when the run went to a series its title does not name exactly
  series_note=$(sed -n 's/.*"seriesMatch":{.*"note":"\(.*\)"}}$/\1/p' "$work/response" | sed 's/\\"/"/g; s/\\\\/\\/g')
  [ -z "$series_note" ] || say "$series_note"
  if [ -n "$no_patches" ]; then
    [ "$no_patches" = '--no-patches' ] || say "no patch list sent: $no_patches"
  else
    send_patch_list "${run_url##*/}"
  fi
  printf '%s%s\n' "$base" "$run_url"
  exit 0
}

# "1 patch", "3 patches"
patches_counted () { if [ "$1" -eq 1 ]; then printf '1 patch'; else printf '%s patches' "$1"; fi; }

# The patch list after the log. The run is stored whatever happens here: a server too old to take
# patch lists, or any other refusal, is said and does not fail the upload.
send_patch_list () {
  if ! send PUT "$base/api/v1/runs/$1/patches" "$work/patches.json" application/json ''; then
    say "warning: the patch list was not sent: $problem"
    return 0
  fi
  case $status in
    200)
      case $(sed -n 's/.*"report":{"state":"\([a-z]*\)".*/\1/p' "$work/response") in
        stored) say "patch list of $(patches_counted "$patch_count") stored as $version's" ;;
        confirmed) say "patch list of $(patches_counted "$patch_count"): the same as $version's" ;;
        differs) say "patch list of $(patches_counted "$patch_count") differs from the one $version has: kept apart" ;;
        *) say "patch list of $(patches_counted "$patch_count") sent" ;;
      esac ;;
    404) say "warning: the server keeps no patch lists (404 $(server_message "$work/response")); the run is stored without one" ;;
    *) say "warning: the server refused the patch list ($status $(server_message "$work/response")); the run is stored without one" ;;
  esac
}

# One request, retried after a network error, a 5xx or a 429 with backoff (and the server's
# Retry-After). Returns 0 with the answer's status in $status and its body in $work/response, or
# 1 with $problem when no answer came that is worth acting on.
send () {
  method=$1 target=$2 body=$3 encoding=$5
  # the headers as this function's own arguments: "$@" keeps each one word
  set -- -H "Content-Type: $4"
  [ -z "$encoding" ] || set -- "$@" -H "Content-Encoding: $encoding"
  attempt=0 pause_for=$delay
  while :; do
    attempt=$((attempt + 1))
    : > "$work/headers"
    # -q first: a user's ~/.curlrc (--fail, say) must not change what the answer looks like. The
    # token reaches curl as a config on its standard input (printf is the shell's own): on a
    # command line any user could read it in ps, and a file would outlive a SIGKILL of the hook
    status=$(printf 'header = "Authorization: Bearer %s"\n' "$token" | curl -q -sS -X "$method" -T "$body" -K - \
      "$@" -H 'Expect:' --connect-timeout 30 -D "$work/headers" -o "$work/response" -w '%{http_code}' \
      "$target" 2> "$work/curl-error")
    rc=$?
    wait_for=''
    if [ $rc -ne 0 ]; then
      problem="cannot reach $base: $(sed -n 's/^curl: ([0-9]*) //p' "$work/curl-error" | sed -n 1p)"
      transient_curl_error $rc || return 1
    else
      case $status in
        # 429 is the rate limit: nothing was stored and the same request is welcome later
        5??|429)
          problem="the server answered $status ($(server_message "$work/response"))"
          wait_for=$(sed -n 's/^[Rr][Ee][Tt][Rr][Yy]-[Aa][Ff][Tt][Ee][Rr]:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$work/headers" | sed -n 1p) ;;
        *) return 0 ;;
      esac
    fi
    if [ "$attempt" -gt "$retries" ]; then problem="giving up after $attempt attempts: $problem"; return 1; fi
    # a Retry-After from the server wins over the backoff, within reason
    if [ -n "$wait_for" ] && [ "$wait_for" -le 300 ]; then pause=$wait_for; else pause=$pause_for; fi
    say "$problem; retrying in ${pause}s ($attempt of $((retries + 1)) attempts made)"
    sleep "$pause"
    pause_for=$((pause_for * 2))
  done
}

# Everything runs from this last line: under `curl ... | sh` the shell reads the script from the
# pipe as it goes, and nothing may start before all of it has been read.
main "$@"
