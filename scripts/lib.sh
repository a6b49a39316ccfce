# Shared by scripts/demo, scripts/test and scripts/bench: install Debian
# packages that are missing, with apt-get, as root or through sudo.

# need_packages thing:package ... — installs each package whose thing (a
# command on PATH, or a file path) is missing, all in one apt-get call.
need_packages() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -e "${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  ((${#missing[@]})) || return 0
  echo "installing ${missing[*]} with apt-get" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
