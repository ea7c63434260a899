#!/bin/sh
# The edge image's entrypoint, behaving like the official haproxy image's:
# options alone run haproxy with them, and haproxy runs in the foreground in
# master-worker mode (-W -db) so the container's main process is haproxy.
set -e
if [ "${1#-}" != "$1" ]; then
    set -- haproxy "$@"
fi
if [ "$1" = haproxy ]; then
    shift
    set -- haproxy -W -db "$@"
fi
exec "$@"
