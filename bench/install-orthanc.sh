#!/usr/bin/env bash
# Install Orthanc with its DICOMweb and GDCM plugins from Debian's packages, for bench/dicomweb.py.
# Idempotent: does nothing when the three packages are already installed. Needs root (or sudo).
# The Debian package would start a systemd service; bench/dicomweb.py never uses it: it runs
# /usr/sbin/Orthanc itself with a throw-away configuration on a free loopback port.
set -euo pipefail

packages=(orthanc orthanc-dicomweb orthanc-gdcm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-orthanc: ${packages[*]} already installed"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "install-orthanc: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
# Without systemd (containers) the postinst's attempt to start the service is refused harmlessly.
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
test -x /usr/sbin/Orthanc
echo "install-orthanc: done ($(/usr/sbin/Orthanc --version | head -n 1))"
