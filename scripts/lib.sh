# Shared by the scripts: install what is missing, with the system's own
# package manager. Plain bash 3.2 (macOS's), no GNU-only tools.

# need_packages thing:package ... — installs each Debian package whose
# thing (a command on PATH, or a file path) is missing, all in one apt-get
# call, as root or through sudo. Without apt-get, says what is missing.
# WITH_RECOMMENDS=yes installs the packages' recommended ones too.
need_packages() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -e "${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  ((${#missing[@]})) || return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing: ${missing[*]} (Debian's names); install them with this system's package manager" >&2
    return 1
  fi
  echo "installing ${missing[*]} with apt-get" >&2
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  local recommends=--no-install-recommends
  [ "${WITH_RECOMMENDS:-}" = yes ] && recommends=--install-recommends
  $sudo apt-get install -y -qq "$recommends" "${missing[@]}" >&2
}

# need_brew command:formula ... — on macOS: installs each Homebrew formula
# whose command is missing; without Homebrew, says what to run.
need_brew() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  ((${#missing[@]})) || return 0
  if ! command -v brew >/dev/null 2>&1; then
    echo "missing: ${missing[*]}; install Homebrew (https://brew.sh), then run: brew install ${missing[*]}" >&2
    return 1
  fi
  echo "installing ${missing[*]} with Homebrew" >&2
  brew install "${missing[@]}" >&2
}
