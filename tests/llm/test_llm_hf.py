"""The `hf:PATH` backend on a real (tiny, random) transformers model that the test builds locally.

Nothing is downloaded: the tokenizer is trained here on a few words and the model has random
weights. Its replies are gibberish, which is the point: the chain must load a local model
offline, answer, log the call, and turn gibberish into a fallback with a reason. Skipped when the
`hf` extra (langchain-huggingface) is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from segmint.agent.ask.llm_parser import parse_with_llm
from segmint.agent.llm.backends import LLMUnavailable, invoke_llm, make_chat_model
from segmint.agent.llm.call_log import CallLog
from segmint.agent.llm.privacy import read_call_log
from segmint.agent.query import Catalogue
from segmint.agent.query.glossary import load_glossary

pytest.importorskip("langchain_huggingface", reason="the hf backend needs: pip install 'segmint[hf]'")

WORDS = "customers lapsed high spenders who are my the of intent list conditions kind term name { } : , \""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny-hf-model")
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([WORDS], trainers.WordLevelTrainer(special_tokens=["<unk>", "<s>", "</s>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", pad_token="<unk>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}assistant:{% endif %}")
    fast.save_pretrained(path)
    config = LlamaConfig(vocab_size=fast.vocab_size, hidden_size=16, intermediate_size=32,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=4096, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def test_hf_backend_loads_a_local_model_offline_and_answers(tiny_model: Path, tmp_path: Path) -> None:
    log = CallLog(tmp_path, backend=f"hf:{tiny_model}", remote=False)
    model = make_chat_model(f"hf:{tiny_model}", max_tokens=12, callbacks=[log])
    assert model is not None and type(model).__name__ == "ChatHuggingFace"
    reply = invoke_llm(model, [("system", "Be brief."), ("human", "who are my lapsed customers")],
                       backend="hf", purpose="smoke")
    assert isinstance(reply.content, str) and reply.content.strip()

    cat = Catalogue(numeric=["orders", "recency_days", "revenue"], text=[], attribute_values={})
    spec, reason = parse_with_llm("who are my lapsed customers", model, load_glossary(), cat, backend="hf")
    # Random weights write no valid query: the parser must say why and leave it to the built-in one.
    assert spec is None and reason is not None
    assert reason.startswith(("the model answered without", "the model's output did not fit",
                              "the model's query was rejected"))
    records = read_call_log(tmp_path)
    assert [r["purpose"] for r in records] == ["smoke", "parse_question"]
    assert all(r["ok"] and r["remote"] is False for r in records)


def test_hf_backend_refuses_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailable, match="cannot load model"):
        make_chat_model(f"hf:{tmp_path}")
