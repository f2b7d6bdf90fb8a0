"""LlamaIndex adapter for Hugging Face Inference Providers, built on the `hfproviders` core.

```python
from llama_index.core import Settings
from llamaindex_hfproviders import HFProviders, HFProvidersEmbedding

Settings.llm = HFProviders(model="meta-llama/Llama-3.1-8B-Instruct")
Settings.embed_model = HFProvidersEmbedding(model_name="BAAI/bge-small-en-v1.5")
```
"""

from llamaindex_hfproviders.base import DEFAULT_CONTEXT_WINDOW, HFProviders
from llamaindex_hfproviders.embeddings import HFProvidersEmbedding

__all__ = ["DEFAULT_CONTEXT_WINDOW", "HFProviders", "HFProvidersEmbedding"]
