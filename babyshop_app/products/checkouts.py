"""Shoppers checking out for `make bench`: run with the production image's
Python (standard library only) in a container on web's network.

Each of THREADS shoppers, for SECONDS, repeats what a browser does: put a
product in a new cart (POST, Origin checked), open the checkout form (its CSRF
token, submission id and fingerprint), and place the order (POST, the
redirect to the order's page). Prints one JSON line: the checkouts done,
those that failed, and the placing POST's p50 and p99 in milliseconds.

    python checkouts.py BASE_URL HOST PRODUCT_ID THREADS SECONDS
"""

import http.client
import json
import re
import sys
import threading
import time
from urllib.parse import urlencode, urlsplit

BASE, HOST, PRODUCT, THREADS, SECONDS = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:6])
ORIGIN = f"https://{HOST}"
HEADERS = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
FIELD = re.compile(r'name="(csrfmiddlewaretoken|submission|fingerprint)" value="([^"]+)"')
placed, failed, timings = [], [], []


def request(connection, cookies, method, path, body=None):
    headers = {**HEADERS, "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if body is not None:
        headers |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    content = response.read().decode()
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    return response.status, response.getheader("Location"), content


def shopper(deadline):
    address = urlsplit(BASE)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    while time.monotonic() < deadline:
        cookies = {}
        try:
            added = request(connection, cookies, "POST", f"/cart/add/{PRODUCT}/", b"")
            form = request(connection, cookies, "GET", "/checkout/")
            fields = dict(FIELD.findall(form[2]))
            body = urlencode({**fields, "name": "Bench Shopper", "email": "shopper@example.com",
                              "address": "1 Load Street"})  # fmt: skip
            started = time.monotonic()
            status, location, _ = request(connection, cookies, "POST", "/checkout/", body)
            took = time.monotonic() - started
        except (OSError, http.client.HTTPException) as error:
            failed.append(repr(error))
            connection.close()
            continue
        if added[0] == 302 and status == 302 and location and "/orders/" in location:
            placed.append(1)
            timings.append(took)
        else:
            failed.append(f"add {added[0]}, form {form[0]}, place {status} -> {location}")


def main():
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=shopper, args=(deadline,)) for _ in range(THREADS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    timings.sort()

    def percentile(p):
        return timings[min(len(timings) - 1, int(len(timings) * p))] * 1000 if timings else None

    print(json.dumps({"checkouts": len(placed), "failed": len(failed), "first failure": failed[:1],
                      "seconds": seconds, "p50": percentile(0.5), "p99": percentile(0.99)}))  # fmt: skip


if __name__ == "__main__":
    main()
