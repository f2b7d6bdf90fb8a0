"""LlamaIndex adapter for Hugging Face Inference Providers, built on the `hfproviders` core.

```python
from llama_index.core import Settings
from llamaindex_hfproviders import HFProviders

Settings.llm = HFProviders(model="meta-llama/Llama-3.1-8B-Instruct")
```
"""

from llamaindex_hfproviders.base import DEFAULT_CONTEXT_WINDOW, HFProviders

__all__ = ["DEFAULT_CONTEXT_WINDOW", "HFProviders"]
