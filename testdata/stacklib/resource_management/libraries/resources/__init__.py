from resource_management.core.base import Resource

__all__ = ["XmlConfig", "PropertiesFile"]


class XmlConfig(Resource):
    pass


class PropertiesFile(Resource):
    pass
