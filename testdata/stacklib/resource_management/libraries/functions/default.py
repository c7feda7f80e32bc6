__all__ = ["default"]


def default(name, default_value):
    from resource_management.libraries.script.script import Script
    cur = Script.config
    for part in [p for p in name.split("/") if p]:
        if not isinstance(cur, dict) or part not in cur:
            return default_value
        cur = cur[part]
    return cur
