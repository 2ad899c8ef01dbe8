"""The judged run (tests/product_run.py) on the normal stack: ``main.py dev`` on local storage. The
same run with the API and the worker on hosts of their own and S3 storage is in
tests/test_scale_out.py."""

from __future__ import annotations

from tests.browser import BrowserPage
from tests.product_run import product_run
from tests.stack import Stack


async def test_a_product_photo_becomes_scrubbable_videos_on_local_storage(
    page: BrowserPage, stack: Stack
) -> None:
    run = await product_run(stack, page, put_prefix=f"{stack.url}/uploads/")
    # On local storage the bytes of the large upload went to the API, and the browser read from it.
    assert all(e["url"].startswith(f"{stack.url}/files/") for e in run.media), run.media
    print(f"\nproduct run on local storage: {run.seconds}, {run.tried} tries by the other team")
