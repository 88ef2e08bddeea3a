#!/bin/sh
# Halt script: stops the guest gracefully through its driver (bounded by halt_timeout).
exec "${CMCL_DRIVER_DIR:-/usr/lib/cmcl/drivers}/process" stop
