import logging
import sys

__all__ = ["Logger"]


class Logger(object):
    logger = None

    @staticmethod
    def initialize_logger(name="resource_management", logging_level="INFO"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG if logging_level == "DEBUG" else logging.INFO)
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s - %(message)s"))
        logger.addHandler(handler)
        Logger.logger = logger

    @staticmethod
    def info(text):
        if Logger.logger is not None:
            Logger.logger.info(text)

    @staticmethod
    def exception(text):
        if Logger.logger is not None:
            Logger.logger.exception(text)
