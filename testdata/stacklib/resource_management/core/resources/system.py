from resource_management.core.base import Resource

__all__ = ["File", "Directory", "Execute"]


class File(Resource):
    pass


class Directory(Resource):
    pass


class Execute(Resource):
    pass
