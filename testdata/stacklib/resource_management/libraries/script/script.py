"""Script.execute() as stack scripts know it: argv, the command JSON,
logging, structured output, one method per command."""
import json
import os
import sys
import traceback
from optparse import OptionParser

from resource_management.core.environment import Environment
from resource_management.core.exceptions import ClientComponentHasNoStatus, ComponentIsNotRunning, Fail
from resource_management.core.logger import Logger

__all__ = ["Script"]


class Script(object):
    config = None
    structuredOut = {}
    tmp_dir = ""

    def load_structured_out(self):
        Script.structuredOut = {}
        if os.path.exists(self.stroutfile):
            try:
                with open(self.stroutfile) as f:
                    Script.structuredOut = json.load(f)
            except ValueError:
                pass

    def put_structured_out(self, sout):
        Script.structuredOut.update(sout)
        with open(self.stroutfile, "w") as f:
            json.dump(Script.structuredOut, f)

    def choose_method_to_execute(self, command_name):
        method = getattr(self, command_name.lower(), None)
        if method is None:
            raise Fail("Script '%s' has no method '%s'" % (sys.argv[0], command_name))
        return method

    def execute(self):
        parser = OptionParser()
        parser.add_option("-o", "--out-files-logging", dest="log_out_files", action="store_true")
        self.options, args = parser.parse_args()
        if len(args) < 6:
            print("Script expects at least 6 arguments")
            sys.exit(1)
        self.command_name = str.lower(sys.argv[1])
        self.command_data_file = sys.argv[2]
        self.basedir = sys.argv[3]
        self.stroutfile = sys.argv[4]
        self.load_structured_out()
        Script.tmp_dir = sys.argv[6]
        Logger.initialize_logger(__name__, logging_level=sys.argv[5])
        if self.command_name == "status":
            Script.structuredOut = {}
            self.put_structured_out({})
        try:
            with open(self.command_data_file) as f:
                Script.config = json.load(f)
        except IOError:
            Logger.exception("Can not read json file with command parameters: ")
            sys.exit(1)
        try:
            method = self.choose_method_to_execute(self.command_name)
            with Environment(self.basedir, tmp_dir=Script.tmp_dir) as env:
                method(env)
        except (ComponentIsNotRunning, ClientComponentHasNoStatus):
            traceback.print_exc()
            sys.exit(1)
