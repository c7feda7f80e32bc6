"""A stack alert: uses Script.config and the resource_management Environment."""
from resource_management.libraries.script.script import Script
from resource_management.core import environment


def execute(configurations={}, parameters={}, host_name=None):
    config = Script.config
    env = environment.Environment.current
    return ('WARNING', ['cluster=%s basedir=%s tmp_dir=%s' % (
        config['clusterLevelParams']['cluster_name'], env.basedir if env else None, env.tmp_dir if env else None)])
