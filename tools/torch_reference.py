"""The PyTorch reference modules: the book's two models (ch. 15 of Raschka et al.), defined once.

Imported by tools/make_fixtures.py, tools/book_charlm.py, benchmarks/ (bench.py's peers and
ONNX export) and bindings/python/tests (the torch round trips). Each of those puts this folder
on ``sys.path`` and imports ``torch_reference``; it needs torch (tests skip before importing it
when torch is missing, and the benchmark imports it only in the processes that run torch).

The parameter names (``state_dict`` keys) are the contract with ``swiftrnn.export``:
``embedding.weight``, ``rnn.{weight,bias}_{ih,hh}_l{k}[_reverse]``, then ``fc1.*``/``fc2.*``
(sentiment) or ``fc.*`` (charlm); a JordanRNN's ``rnn.{weight,bias}_{ih,ho,hy}_l{k}``. The submodules are created in the book's order (embedding,
rnn, fc...), so ``torch.manual_seed(s)`` followed by a constructor gives the same weights as the
book's classes. Changing anything here changes the committed fixtures
(Tests/SwiftRNNTests/Fixtures, see tools/README.md) and the benchmark models.
"""

from __future__ import annotations

import collections
import math

import torch
import torch.nn as nn

__all__ = ["SentimentRNN", "TextClassifier", "CharRNN", "CharGRU", "JordanRNN", "CharJordan",
           "concat_pool", "NGramBag", "WideSentimentRNN", "ngram_buckets", "ngram_features"]


def concat_pool(packed_out, last):
    """ULMFiT's concat pooling (libswiftrnn's ``pooling: concat``): ``last`` (the final states,
    [B, D*S]) beside the max and the mean of the packed output over each sequence's real steps:
    [B, 3*D*S]. Padding never enters the max (masked to -inf) nor the mean (divided by the
    length)."""
    out, lengths = nn.utils.rnn.pad_packed_sequence(packed_out, batch_first=True)
    steps = torch.arange(out.shape[1])[None, :] < lengths[:, None]          # [B, T]
    mx = out.masked_fill(~steps[:, :, None], float("-inf")).max(dim=1).values
    mean = out.sum(dim=1) / lengths[:, None].to(out.dtype)
    return torch.cat([last, mx, mean], dim=1)


class SentimentRNN(nn.Module):
    """The book's sentiment model: Embedding(padding_idx=0) -> recurrent layer over the packed
    batch -> last hidden state -> fc1 -> ReLU -> fc2 -> Sigmoid.

    With the defaults (LSTM, unidirectional, embedding 20, hidden 64, fc 64) it is the book's
    model exactly. ``rnn_cls`` (nn.LSTM, nn.GRU or nn.RNN), ``bidirectional`` (the last forward
    and backward hidden states concatenated) and ``rnn_kw`` (e.g. num_layers, nonlinearity) give
    the variants libswiftrnn also runs.
    """

    def __init__(self, vocab_size, embed_dim=20, rnn_hidden_size=64, fc_hidden_size=64,
                 rnn_cls=nn.LSTM, bidirectional=False, pooling="last", **rnn_kw):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.is_lstm = rnn_cls is nn.LSTM
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.rnn = rnn_cls(embed_dim, rnn_hidden_size, batch_first=True,
                           bidirectional=bidirectional, **rnn_kw)
        D = 2 if bidirectional else 1
        state = rnn_kw.get("proj_size") or rnn_hidden_size      # nn.LSTM(proj_size=P): h has P
        self.fc1 = nn.Linear((3 if pooling == "concat" else 1) * D * state, fc_hidden_size)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(fc_hidden_size, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, text, lengths):
        """text [B, T] int64 (right-padded with 0), lengths [B] -> probabilities [B, 1]."""
        out = self.embedding(text)
        out = nn.utils.rnn.pack_padded_sequence(out, lengths.cpu().numpy(),
                                                enforce_sorted=False, batch_first=True)
        if self.is_lstm:
            packed, (hidden, cell) = self.rnn(out)
        else:
            packed, hidden = self.rnn(out)
        if self.bidirectional:
            out = torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)
        else:
            out = hidden[-1, :, :]
        if self.pooling == "concat":
            out = concat_pool(packed, out)
        out = self.fc1(out)
        out = self.relu(out)
        out = self.fc2(out)
        out = self.sigmoid(out)
        return out


class TextClassifier(nn.Module):
    """A many-to-one classifier with ``n_labels`` outputs (libswiftrnn's ``classifier`` kind):
    the sentiment model's layers (embedding, packed recurrent layer, last hidden state, fc1,
    ReLU, fc2) with a softmax over the labels, or a sigmoid per label when ``multi_label``.
    ``bias=False`` drops every bias (recurrent and Linear); ``rnn_kw`` as in SentimentRNN
    (e.g. num_layers, dropout, nonlinearity)."""

    def __init__(self, vocab_size, embed_dim, rnn_hidden_size, fc_hidden_size, n_labels,
                 rnn_cls=nn.LSTM, bidirectional=False, multi_label=False, bias=True,
                 pooling="last", **rnn_kw):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.is_lstm = rnn_cls is nn.LSTM
        self.bidirectional = bidirectional
        self.multi_label = multi_label
        self.pooling = pooling
        self.rnn = rnn_cls(embed_dim, rnn_hidden_size, batch_first=True,
                           bidirectional=bidirectional, bias=bias, **rnn_kw)
        D = 2 if bidirectional else 1
        state = rnn_kw.get("proj_size") or rnn_hidden_size      # nn.LSTM(proj_size=P): h has P
        self.fc1 = nn.Linear((3 if pooling == "concat" else 1) * D * state, fc_hidden_size,
                             bias=bias)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(fc_hidden_size, n_labels, bias=bias)

    def features(self, text, lengths):
        """text [B, T], lengths [B] -> what the head reads: the final hidden state [B, D * hidden]
        (with ``pooling="concat"`` also its max and mean, [B, 3 * D * hidden])."""
        out = self.embedding(text)
        out = nn.utils.rnn.pack_padded_sequence(out, lengths.cpu().numpy(),
                                                enforce_sorted=False, batch_first=True)
        if self.is_lstm:
            packed, (hidden, _) = self.rnn(out)
        else:
            packed, hidden = self.rnn(out)
        if self.bidirectional:
            last = torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)
        else:
            last = hidden[-1, :, :]
        return concat_pool(packed, last) if self.pooling == "concat" else last

    def forward(self, text, lengths):
        """-> probabilities [B, n_labels]."""
        logits = self.fc2(self.relu(self.fc1(self.features(text, lengths))))
        return torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)


class CharRNN(nn.Module):
    """The book's character model: Embedding -> LSTM -> fc. ``forward`` is the book's: one
    character per call, the state passed in and out (what its ``sample()`` drives);
    ``forward_sequence`` runs a whole window in one ``nn.LSTM`` call (the same computation)."""

    def __init__(self, vocab_size, embed_dim=256, rnn_hidden_size=512):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn_hidden_size = rnn_hidden_size
        self.rnn = nn.LSTM(embed_dim, rnn_hidden_size, batch_first=True)
        self.fc = nn.Linear(rnn_hidden_size, vocab_size)

    def forward(self, x, hidden, cell):
        """x [B] -> (logits [B, V], hidden, cell)."""
        out = self.embedding(x).unsqueeze(1)
        out, (hidden, cell) = self.rnn(out, (hidden, cell))
        out = self.fc(out).reshape(out.size(0), -1)
        return out, hidden, cell

    def init_hidden(self, batch_size):
        hidden = torch.zeros(1, batch_size, self.rnn_hidden_size)
        cell = torch.zeros(1, batch_size, self.rnn_hidden_size)
        return hidden, cell

    def forward_sequence(self, x, hidden=None, cell=None):
        """x [B, T] -> (logits [B, T, V], hidden, cell); no state given: zeros."""
        state = None if hidden is None else (hidden, cell)
        out, (hidden, cell) = self.rnn(self.embedding(x), state)
        return self.fc(out), hidden, cell


class CharGRU(nn.Module):
    """The character model with a GRU (``num_layers`` layers) in place of the LSTM; same
    interface as CharRNN without the cell state."""

    def __init__(self, vocab_size, embed_dim, rnn_hidden_size, num_layers=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn_hidden_size = rnn_hidden_size
        self.num_layers = num_layers
        self.rnn = nn.GRU(embed_dim, rnn_hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(rnn_hidden_size, vocab_size)

    def forward(self, x, hidden):
        """x [B] -> (logits [B, V], hidden)."""
        out = self.embedding(x).unsqueeze(1)
        out, hidden = self.rnn(out, hidden)
        out = self.fc(out).reshape(out.size(0), -1)
        return out, hidden

    def init_hidden(self, batch_size):
        return torch.zeros(self.num_layers, batch_size, self.rnn_hidden_size)

    def forward_sequence(self, x, hidden=None):
        """x [B, T] -> (logits [B, T, V], hidden); no state given: zeros."""
        out, hidden = self.rnn(self.embedding(x), hidden)
        return self.fc(out), hidden


class JordanRNN(nn.Module):
    """The Jordan network (output recurrence; docs/jordan.md), which torch.nn lacks: the
    previous OUTPUT, not the previous hidden state, feeds the hidden layer. Per layer l:

        h_t = tanh(W_ih x_t + b_ih + W_ho y_{t-1} + b_ho)      # weight_ih_l{l} [H, in], weight_ho_l{l} [H, O]
        y_t = W_hy h_t + b_hy                                  # weight_hy_l{l} [O, H]

    ``y`` (``output_size`` O values, linear: no nonlinearity) is the layer's output, its state
    (zero at the start unless ``y0`` is given) and the next layer's input. Parameters are
    registered in the order weight_ih, weight_ho, bias_ih, bias_ho, weight_hy, bias_hy per layer
    and start ~ U(-1/sqrt(H), 1/sqrt(H)) as nn.RNN's do. The interface is nn.RNN's with
    ``batch_first=True``: ``forward(input [B, T, in], y0 [L, B, O]) -> (output [B, T, O],
    y_n [L, B, O])``; ``lengths`` gives packed-sequence semantics (a sequence stops at its length:
    its state is kept and its later outputs are zero).
    """

    def __init__(self, input_size, hidden_size, output_size, num_layers=1, bias=True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.output_size, self.num_layers, self.bias = output_size, num_layers, bias
        H, O = hidden_size, output_size
        for k in range(num_layers):
            inp = input_size if k == 0 else O
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(H, inp)))
            self.register_parameter(f"weight_ho_l{k}", nn.Parameter(torch.empty(H, O)))
            if bias:
                self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(H)))
                self.register_parameter(f"bias_ho_l{k}", nn.Parameter(torch.empty(H)))
            self.register_parameter(f"weight_hy_l{k}", nn.Parameter(torch.empty(O, H)))
            if bias:
                self.register_parameter(f"bias_hy_l{k}", nn.Parameter(torch.empty(O)))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / self.hidden_size ** 0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _p(self, name, k):
        return getattr(self, f"{name}_l{k}", None)

    def forward(self, input, y0=None, lengths=None):
        B, T, _ = input.shape
        x, finals = input, []
        for k in range(self.num_layers):
            w_ih, w_ho, w_hy = self._p("weight_ih", k), self._p("weight_ho", k), self._p("weight_hy", k)
            b_ih, b_ho, b_hy = self._p("bias_ih", k), self._p("bias_ho", k), self._p("bias_hy", k)
            y = input.new_zeros(B, self.output_size) if y0 is None else y0[k]
            outs = []
            for t in range(T):
                h = torch.tanh(nn.functional.linear(x[:, t], w_ih, b_ih) + nn.functional.linear(y, w_ho, b_ho))
                y_new = nn.functional.linear(h, w_hy, b_hy)
                if lengths is None:
                    y = y_new
                    outs.append(y_new)
                else:
                    live = (t < lengths).unsqueeze(1)
                    y = torch.where(live, y_new, y)
                    outs.append(torch.where(live, y_new, torch.zeros_like(y_new)))
            x = torch.stack(outs, dim=1)
            finals.append(y)
        return x, torch.stack(finals)


class CharJordan(nn.Module):
    """The character model with a JordanRNN (hidden H, output O fed back, ``num_layers``) in
    place of the LSTM: Embedding -> JordanRNN -> fc [V, O]. Same interface as CharGRU (the
    state is the last outputs, ``[num_layers, B, O]``)."""

    def __init__(self, vocab_size, embed_dim, rnn_hidden_size, output_size, num_layers=1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.output_size = output_size
        self.num_layers = num_layers
        self.rnn = JordanRNN(embed_dim, rnn_hidden_size, output_size, num_layers=num_layers)
        self.fc = nn.Linear(output_size, vocab_size)

    def forward(self, x, hidden):
        """x [B] -> (logits [B, V], hidden)."""
        out, hidden = self.rnn(self.embedding(x).unsqueeze(1), hidden)
        return self.fc(out).reshape(out.size(0), -1), hidden

    def init_hidden(self, batch_size):
        return torch.zeros(self.num_layers, batch_size, self.output_size)

    def forward_sequence(self, x, hidden=None):
        """x [B, T] -> (logits [B, T, V], hidden); no state given: zeros."""
        out, hidden = self.rnn(self.embedding(x), hidden)
        return self.fc(out), hidden


# ---------------------------------------------------------------------------------------------
# the hashed n-gram term (libswiftrnn's ngram_order / ngram.weight / ngram.idf; issue 14)
# ---------------------------------------------------------------------------------------------

def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def ngram_buckets(tokens, order, buckets):
    """The bucket of every n-gram of 1..order consecutive tokens: FNV-1a 64 of the tokens'
    UTF-8 bytes joined by one space, modulo buckets (in token order, shortest first)."""
    out = []
    for i in range(len(tokens)):
        for n in range(1, order + 1):
            if i - n + 1 < 0:
                break
            out.append(fnv1a64(" ".join(tokens[i - n + 1:i + 1]).encode("utf-8")) % buckets)
    return out


def ngram_features(tokens, order, buckets, idf):
    """(buckets, values) of a text: each distinct bucket seen c times has (1 + ln c) * idf[b],
    and the vector is divided by its Euclidean norm (scikit-learn's TfidfVectorizer with
    sublinear_tf=True over hashed n-grams). Buckets whose value is 0 are left out."""
    counts = collections.Counter(ngram_buckets(tokens, order, buckets))
    pairs = [(b, (1 + math.log(c)) * float(idf[b])) for b, c in sorted(counts.items())]
    pairs = [(b, v) for b, v in pairs if v != 0]
    norm = math.sqrt(sum(v * v for _, v in pairs))
    if not pairs or not norm > 0:
        return [], []
    return [b for b, _ in pairs], [v / norm for _, v in pairs]


class NGramBag(nn.EmbeddingBag):
    """The n-gram term: ``nn.EmbeddingBag(buckets, outputs, mode='sum')`` over a text's hashed
    n-grams with their tf-idf values as ``per_sample_weights``; the buffer ``idf`` [buckets].
    state_dict: ``ngram.weight``, ``ngram.idf`` (as the attribute ``ngram`` of a model)."""

    def __init__(self, buckets, outputs, order):
        super().__init__(buckets, outputs, mode="sum")
        self.order = order
        self.register_buffer("idf", torch.ones(buckets))

    def forward(self, token_lists):
        idx, vals, offsets = [], [], []
        for tokens in token_lists:
            offsets.append(len(idx))
            b, v = ngram_features(tokens, self.order, self.num_embeddings, self.idf)
            idx += b
            vals += v
        return super().forward(torch.tensor(idx, dtype=torch.long), torch.tensor(offsets, dtype=torch.long),
                               per_sample_weights=torch.tensor(vals, dtype=torch.float32))


class WideSentimentRNN(SentimentRNN):
    """A sentiment model with the n-gram term added to fc2's output before the sigmoid
    (libswiftrnn's `train ngrams` writes this shape)."""

    def __init__(self, vocab_size, ngram_buckets, ngram_order, **kw):
        super().__init__(vocab_size, **kw)
        self.sigmoid = nn.Identity()          # SentimentRNN.forward then returns fc2's output
        self.ngram = NGramBag(ngram_buckets, 1, ngram_order)

    def logits(self, text, lengths, token_lists):
        return super().forward(text, lengths) + self.ngram(token_lists)

    def forward(self, text, lengths, token_lists):
        return torch.sigmoid(self.logits(text, lengths, token_lists))
