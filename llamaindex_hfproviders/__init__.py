"""LlamaIndex adapter for Hugging Face Inference Providers, built on the `hfproviders` core.

```python
from llama_index.core import Settings
from llamaindex_hfproviders import HFProviders, HFProvidersEmbedding

Settings.llm = HFProviders(model="meta-llama/Llama-3.1-8B-Instruct")
Settings.embed_model = HFProvidersEmbedding(model_name="BAAI/bge-small-en-v1.5")
```
"""

from typing import TYPE_CHECKING, Any

from llamaindex_hfproviders.base import DEFAULT_CONTEXT_WINDOW, HFProviders

if TYPE_CHECKING:
    from llamaindex_hfproviders.embeddings import HFProvidersEmbedding

__all__ = ["DEFAULT_CONTEXT_WINDOW", "HFProviders", "HFProvidersEmbedding"]


def __getattr__(name: str) -> Any:
    # The embedding class loads LlamaIndex's embedding machinery: only when asked, so that
    # `from llamaindex_hfproviders import HFProviders` stays light.
    if name == "HFProvidersEmbedding":
        from llamaindex_hfproviders.embeddings import HFProvidersEmbedding

        return HFProvidersEmbedding
    raise AttributeError(f"module 'llamaindex_hfproviders' has no attribute {name!r}")
