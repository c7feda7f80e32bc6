#!/bin/sh
echo perf-0002