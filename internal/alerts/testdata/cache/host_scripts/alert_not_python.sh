#!/bin/sh
echo this is not a python alert
