#!/usr/bin/env bash
# A PulseAudio virtual microphone for tests on machines without a sound card.
#
#   scripts/virtual_mic.sh start    start the daemon (no-op if already running)
#   scripts/virtual_mic.sh stop     stop it by the PID in its pidfile (no-op if not running)
#   scripts/virtual_mic.sh status   exit 0 if running
#   scripts/virtual_mic.sh env      print the variables clients need (eval-able)
#
# The daemon is a private, per-directory PulseAudio user instance (it works as
# root) whose only source is `sayso_mic`, a module-pipe-source reading s16le,
# 16 kHz, mono from the FIFO $XDG_RUNTIME_DIR/sayso_mic.fifo; it is the
# default source.  Audio written to the FIFO comes out of the microphone.  The
# pipe source produces samples only while something writes to the FIFO: a
# recorder waits (no callbacks) when nothing does, so tests keep a writer
# feeding silence (tests/audio_device.py).
#
# Clients (the test process) reach it with
#   PULSE_SERVER=unix:$SAYSO_PULSE_DIR/native  PULSE_COOKIE=$SAYSO_PULSE_DIR/cookie
# With PULSE_SERVER set, the stock ALSA configuration of libasound2-plugins
# (/usr/share/alsa/alsa.conf.d/pulse.conf, /etc/alsa/conf.d/99-pulse.conf) gives
# PortAudio/sounddevice two input devices, `pulse` and `default`, both routed
# to this daemon; no ALSA config file is written.
#
# Everything lives under SAYSO_PULSE_DIR (default /tmp/sayso-pulse).
set -u

DIR="${SAYSO_PULSE_DIR:-/tmp/sayso-pulse}"
PIDFILE="$DIR/pulseaudio.pid"
LOG="$DIR/pulseaudio.log"
SOCKET="$DIR/native"
FIFO="$DIR/sayso_mic.fifo"
CONFIG="$DIR/sayso.pa"

export XDG_RUNTIME_DIR="$DIR"
export PULSE_RUNTIME_PATH="$DIR/runtime"
export PULSE_STATE_PATH="$DIR/state"
export PULSE_SERVER="unix:$SOCKET"
export PULSE_COOKIE="$DIR/cookie"
# The daemon and pactl would otherwise write a cookie under ~/.config/pulse.
HOME_FOR_PULSE="$DIR/home"

say() { echo "virtual_mic: $*"; }

alive() {
    # True if process $1 exists and is not a zombie (an unreaped zombie still answers kill -0).
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

running_pid() {
    # Print the daemon PID if the pidfile names a live pulseaudio process.
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null)"
    [ -n "$pid" ] || return 1
    alive "$pid" || return 1
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
        pulseaudio*) echo "$pid"; return 0 ;;
    esac
    return 1
}

server_answers() {
    HOME="$HOME_FOR_PULSE" timeout 3 pactl info >/dev/null 2>&1
}

print_env() {
    echo "export PULSE_SERVER=unix:$SOCKET"
    echo "export PULSE_COOKIE=$DIR/cookie"
    echo "export SAYSO_PULSE_DIR=$DIR"
}

start() {
    if ! command -v pulseaudio >/dev/null 2>&1; then
        say "pulseaudio is not installed (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)" >&2
        return 2
    fi
    local pid
    if pid="$(running_pid)"; then
        if server_answers; then
            say "already running (pid $pid, server unix:$SOCKET, source sayso_mic, fifo $FIFO)"
            return 0
        fi
        say "pid $pid does not answer; restarting it"
        stop >/dev/null
    fi
    mkdir -p "$DIR" "$PULSE_RUNTIME_PATH" "$PULSE_STATE_PATH" "$HOME_FOR_PULSE"
    chmod 700 "$PULSE_RUNTIME_PATH" "$PULSE_STATE_PATH"
    rm -f "$SOCKET" "$FIFO" "$PIDFILE"
    cat >"$CONFIG" <<EOF
load-module module-native-protocol-unix auth-anonymous=1 socket=$SOCKET
load-module module-pipe-source source_name=sayso_mic file=$FIFO format=s16le rate=16000 channels=1
load-module module-null-sink
load-module module-always-sink
set-default-source sayso_mic
EOF
    # setsid: own session, so the daemon survives the shell (and make) that started it.
    HOME="$HOME_FOR_PULSE" setsid pulseaudio \
        --daemonize=no --system=false --disallow-exit --exit-idle-time=-1 \
        --use-pid-file=no --realtime=no --high-priority=no \
        --log-target=stderr -n -F "$CONFIG" \
        </dev/null >"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    local i
    for i in $(seq 1 100); do
        if ! alive "$pid"; then
            say "pulseaudio exited during start-up; its log ($LOG):" >&2
            sed 's/^/    /' "$LOG" >&2
            rm -f "$PIDFILE"
            return 1
        fi
        if [ -S "$SOCKET" ] && [ -p "$FIFO" ] && server_answers; then
            say "started (pid $pid, server unix:$SOCKET, source sayso_mic, fifo $FIFO)"
            return 0
        fi
        sleep 0.1
    done
    say "pulseaudio (pid $pid) did not answer within 10 s; stopping it. Log ($LOG):" >&2
    sed 's/^/    /' "$LOG" >&2
    stop >/dev/null
    return 1
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PIDFILE"
        say "not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    local i
    for i in $(seq 1 50); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        sleep 0.1
    fi
    rm -f "$PIDFILE" "$SOCKET"
    say "stopped (pid $pid)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status)
        if pid="$(running_pid)"; then say "running (pid $pid)"; exit 0; else say "not running"; exit 1; fi ;;
    env) print_env ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
