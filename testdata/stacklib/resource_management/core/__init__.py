# The standard modules the real library imports at start.
import base64  # noqa: F401
import collections  # noqa: F401
import configparser  # noqa: F401
import datetime  # noqa: F401
import email.utils  # noqa: F401
import getpass  # noqa: F401
import grp  # noqa: F401
import hashlib  # noqa: F401
import http.client  # noqa: F401
import json  # noqa: F401
import logging  # noqa: F401
import logging.handlers  # noqa: F401
import optparse  # noqa: F401
import platform  # noqa: F401
import pwd  # noqa: F401
import random  # noqa: F401
import re  # noqa: F401
import shutil  # noqa: F401
import socket  # noqa: F401
import ssl  # noqa: F401
import string  # noqa: F401
import subprocess  # noqa: F401
import tempfile  # noqa: F401
import threading  # noqa: F401
import traceback  # noqa: F401
import urllib.parse  # noqa: F401
import urllib.request  # noqa: F401
import uuid  # noqa: F401
import xml.dom.minidom  # noqa: F401

from resource_management.core import _bulk  # noqa: F401
from resource_management.core.base import *  # noqa: F401,F403
from resource_management.core.environment import *  # noqa: F401,F403
from resource_management.core.exceptions import *  # noqa: F401,F403
from resource_management.core.logger import *  # noqa: F401,F403
from resource_management.core.resources import *  # noqa: F401,F403
from resource_management.core.shell import *  # noqa: F401,F403
from resource_management.core.source import *  # noqa: F401,F403
