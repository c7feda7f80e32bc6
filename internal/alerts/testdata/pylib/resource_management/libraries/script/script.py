class Script(object):
    config = None
