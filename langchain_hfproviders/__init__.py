"""LangChain integration for Hugging Face Inference Providers, on the `hfproviders` core.

Example:
    >>> from langchain_hfproviders import ChatHFProviders
    >>> model = ChatHFProviders(model="meta-llama/Llama-3.3-70B-Instruct", provider="together")
    >>> model.invoke("Hello!").content  # doctest: +SKIP

"""

from typing import TYPE_CHECKING, Any

from langchain_hfproviders.chat_models import ChatHFProviders

if TYPE_CHECKING:
    from langchain_hfproviders.embeddings import HFProvidersEmbeddings
    from langchain_hfproviders.llms import HFProvidersLLM

__all__ = ["ChatHFProviders", "HFProvidersEmbeddings", "HFProvidersLLM"]


def __getattr__(name: str) -> Any:
    # The text-generation LLM pulls in langchain-core's BaseLLM machinery: load it only when
    # asked, so `from langchain_hfproviders import ChatHFProviders` stays light.
    if name == "HFProvidersLLM":
        from langchain_hfproviders.llms import HFProvidersLLM

        return HFProvidersLLM
    if name == "HFProvidersEmbeddings":
        from langchain_hfproviders.embeddings import HFProvidersEmbeddings

        return HFProvidersEmbeddings
    raise AttributeError(f"module 'langchain_hfproviders' has no attribute {name!r}")
