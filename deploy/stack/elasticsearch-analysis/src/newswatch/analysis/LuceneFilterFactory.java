package newswatch.analysis;

import java.util.function.UnaryOperator;

import org.apache.lucene.analysis.TokenStream;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;

/** A token filter without settings of its own: wraps the stream in one Lucene filter. */
class LuceneFilterFactory extends AbstractTokenFilterFactory {
    private final UnaryOperator<TokenStream> filter;

    LuceneFilterFactory(String name, Settings settings, UnaryOperator<TokenStream> filter) {
        super(name, settings);
        this.filter = filter;
    }

    @Override
    public TokenStream create(TokenStream input) {
        return filter.apply(input);
    }

    /** A filter that works on single characters, hence also on keyword fields' normalizers. */
    static final class Normalizing extends LuceneFilterFactory implements NormalizingTokenFilterFactory {
        Normalizing(String name, Settings settings, UnaryOperator<TokenStream> filter) {
            super(name, settings, filter);
        }
    }
}
