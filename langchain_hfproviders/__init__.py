"""LangChain integration for Hugging Face Inference Providers, on the `hfproviders` core.

Example:
    >>> from langchain_hfproviders import ChatHFProviders
    >>> model = ChatHFProviders(model="meta-llama/Llama-3.3-70B-Instruct", provider="together")
    >>> model.invoke("Hello!").content  # doctest: +SKIP

"""

from langchain_hfproviders.chat_models import ChatHFProviders
from langchain_hfproviders.llms import HFProvidersLLM

__all__ = ["ChatHFProviders", "HFProvidersLLM"]
