import os, sys
root, output = sys.argv[1], sys.argv[2]
listed, order, mapped, busy = set(), [], set(), [False]
def inside(path):
    path = os.path.normpath(path)
    return path[len(root) + 1:] if path.startswith(root + '/') and os.path.isfile(path) else None
def add(path):
    name = inside(path) if isinstance(path, str) else None
    if name and name not in listed and name != output[len(root) + 1:]:
        listed.add(name)
        order.append(name)
def newly_mapped():
    # Shared libraries are mapped by the dynamic loader, which Python does not audit: they are listed when
    # an import or open first finds them mapped, next to what needed them.
    with open('/proc/self/maps') as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].strip() not in mapped:
                mapped.add(fields[5].strip())
                add(fields[5].strip())
def cached(module):
    spec = getattr(module, '__spec__', None)
    for path in (getattr(spec, 'cached', None), getattr(spec, 'origin', None)):
        if isinstance(path, str) and inside(path):
            return path
def hook(event, args):
    if busy[0] or event not in ('open', 'import'):
        return
    busy[0] = True
    try:
        newly_mapped()
        if event == 'open' and args:
            add(args[0])
    finally:
        busy[0] = False
# In the order a start needs them: the interpreter and the libraries mapped at its exec, the modules its
# own start-up imported, the bootstrap; then whatever the entry module's import opens or maps.
add(root + '/python/bin/python3')
newly_mapped()
for module in list(sys.modules.values()):
    add(cached(module))
for name in ('bootstrap.pyc', '_xar_importer.py', 'import-index.marshal'):
    add(root + '/.xar/' + name)
sys.addaudithook(hook)
sys.path.insert(0, root + '/.xar')
import bootstrap  # installs the import index's finder, as at run time
kind, target = bootstrap._ENTRIES[bootstrap._DEFAULT]
try:
    bootstrap._run_pth_imports()
    if kind == 'module':
        import importlib.util
        importlib.util.find_spec(target)
    else:
        __import__(target.partition(':')[0])
except BaseException as error:
    import traceback
    said = ''.join(traceback.format_exception_only(type(error), error)).strip()
    print('import stopped: ' + ' '.join(said.split()), file=sys.stderr)
busy[0] = True
newly_mapped()
for module in list(sys.modules.values()):
    add(cached(module))
with open(output, 'w') as out:
    out.write(''.join(name + '\n' for name in order))
