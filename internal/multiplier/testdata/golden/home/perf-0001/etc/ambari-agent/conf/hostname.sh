#!/bin/sh
echo perf-0001