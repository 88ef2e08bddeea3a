#!/bin/sh
# Run script: starts the guest through its driver (DESIGN.md section 4: run and halt
# scripts call the driver's start and stop). cmcld sets the CMCL_* environment; the
# driver is found in the cluster's driver_dir (CMCL_DRIVER_DIR).
exec "${CMCL_DRIVER_DIR:-/usr/lib/cmcl/drivers}/process" start
