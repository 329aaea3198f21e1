#!/bin/sh
echo "ksft-upload.sh: being written" >&2
exit 1
