#!/bin/sh
echo perf-0003