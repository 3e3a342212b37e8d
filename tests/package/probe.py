"""Index the app at ``argv[1]`` as the Python worker does, and print what that took, as JSON.

Run as a script with ``python -I`` (no environment variables, no user site, no script folder on
the path), so the only code it can import is the interpreter's environment and the app folder,
which it puts first on the path as the worker puts the app root. Prints the functions (name ->
parsed bindings, the worker's ``get_raw_bindings()``) and every loaded module with its file.
"""

import json
import sys

app_dir = sys.argv[1]
sys.path.insert(0, app_dir)

import function_app  # noqa: E402  (the app folder must be on the path first)

indexed = function_app.app.get_functions()
functions = {
    str(function.get_function_name()): sorted(
        (json.loads(raw) for raw in function.get_raw_bindings()),
        key=lambda binding: json.dumps(binding, sort_keys=True),
    )
    for function in indexed
}
modules = {
    name: getattr(module, "__file__", None)
    for name, module in sorted(sys.modules.items())
    if name != "__main__"
}
print(
    json.dumps(
        {
            "indexed": len(indexed),
            "functions": functions,
            "modules": modules,
            "prefix": sys.prefix,
        }
    )
)
