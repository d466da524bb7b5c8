import ctypes, json, sys
root = sys.argv[1]
for name in sys.argv[2:]:
    print('loading ' + name, flush=True)
    try:
        ctypes.CDLL(root + '/' + name)
    except OSError as error:
        message = str(error).replace(root + '/', '')
        print(json.dumps([name, message]), flush=True)
