#!/usr/bin/env bash
# Installs the Debian packages Sayso needs (audio I/O, the virtual test microphone,
# Qt's xcb platform, TTS voices for the training recipe). As root it uses apt-get;
# otherwise it lists what is missing and how to install it.
set -euo pipefail
PKGS=(
  libportaudio2 libsndfile1                                   # sounddevice, soundfile
  pulseaudio pulseaudio-utils libasound2-plugins alsa-utils   # virtual microphone for tests
  libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-xinerama0 libxcb-xkb1 libxcb-shape0 libxcb-randr0    # Qt xcb platform
  xvfb x11-utils                                              # headless screen for screenshots
  desktop-file-utils                                          # desktop-file-validate: tests of --install-desktop
  flite espeak-ng festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox  # TTS for the recipe
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Sayso needs these system packages, which are not installed:" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
  echo "(Run that, then 'make run' or 'make test' again.)" >&2
  exit 1
fi
