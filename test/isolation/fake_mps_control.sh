#!/bin/sh
# Stand-in for nvidia-cuda-mps-control in tests. `-d` starts a "daemon" (a sleep) whose pid is
# kept in $CUDA_MPS_PIPE_DIRECTORY; on stdin, get_server_list succeeds while it lives and quit
# stops it. FAKE_MPS_FAIL_START=1 makes -d fail. While the file FAKE_MPS_HANG exists,
# get_server_list hangs (it first creates FAKE_MPS_HANG.started), as a stuck daemon would.
pidfile="$CUDA_MPS_PIPE_DIRECTORY/fake-daemon.pid"
alive() {
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -r "/proc/$pid/stat" ] && ! grep -q ') Z' "/proc/$pid/stat"
}
if [ "$1" = "-d" ]; then
  [ "$FAKE_MPS_FAIL_START" = "1" ] && { echo "fake start failure"; exit 1; }
  sleep 600 </dev/null >/dev/null 2>&1 &
  echo $! > "$pidfile"
  echo "${CUDA_VISIBLE_DEVICES:-}" > "$CUDA_MPS_PIPE_DIRECTORY/visible-devices"
  echo "$CUDA_MPS_LOG_DIRECTORY" > "$CUDA_MPS_PIPE_DIRECTORY/log-directory"
  exit 0
fi
read -r command
case "$command" in
  get_server_list)
    if [ -n "$FAKE_MPS_HANG" ] && [ -e "$FAKE_MPS_HANG" ]; then
      touch "$FAKE_MPS_HANG.started"
      while [ -e "$FAKE_MPS_HANG" ]; do sleep 0.05; done
    fi
    alive ;;
  quit) alive && kill "$(cat "$pidfile")"; rm -f "$pidfile" ;;
  *) exit 2 ;;
esac
